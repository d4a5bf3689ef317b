"""Turns a stored event into the wire message and sends it to the order's group."""

import logging
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from orders.models import OrderEvent

logger = logging.getLogger(__name__)

EVENT_TYPE = "order.event"


def order_group(order_id: UUID | str) -> str:
    return f"order.{order_id}"


def event_message(event: OrderEvent) -> dict:
    """The one wire form of an event, for replayed and live events alike."""
    from orders.serializers import OrderEventSerializer

    return OrderEventSerializer(event).data


def publish_order_event(event: OrderEvent) -> None:
    """Send a committed event to live subscribers.

    The event is already stored, so a failure here costs subscribers nothing they cannot
    replay: it is logged, not raised.
    """
    try:
        async_to_sync(get_channel_layer().group_send)(
            order_group(event.order_id), {"type": EVENT_TYPE, "event": event_message(event)}
        )
    except Exception:
        logger.exception("could not publish event %s of order %s", event.seq, event.order_id)
