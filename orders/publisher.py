"""Turns a stored event into the wire message and sends it to the order's group."""

import json
import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo
from uuid import UUID

from channels.layers import get_channel_layer
from django.utils import timezone

from orders.background import run_in_background
from orders.group_send import GroupSender
from orders.models import OrderEvent

logger = logging.getLogger(__name__)

EVENT_TYPE = "order.event"
# A publish waits about this long for Redis at most, over its two tries; the event is stored, so
# subscribers replay it anyway.
PUBLISH_TIMEOUT = 5.0

_sender: GroupSender | None = None


def order_group(order_id: UUID | str) -> str:
    return f"order.{order_id}"


def wire_datetime(value: datetime, tz: tzinfo) -> str:
    """An aware datetime as DRF's DateTimeField writes it, in `tz`: ISO 8601, with UTC as "Z"."""
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def event_message(event: OrderEvent, tz: tzinfo | None = None) -> dict:
    """The one wire form of an event, for replayed and live events alike.

    The same as OrderEventSerializer's, built directly: every event of every order passes through
    here, and a serializer instance costs more than the whole message. A caller building many
    messages passes the current time zone, whose lookup costs more than the formatting.
    """
    from orders.serializers import camelize

    return {
        "orderId": str(event.order_id),
        "seq": int(event.seq),
        "status": str(event.status),
        "timestamp": wire_datetime(event.created_at, timezone.get_current_timezone() if tz is None else tz),
        "data": camelize(event.data),
    }


def _group_sender() -> GroupSender:
    """The process's sender for the channel layer in use (a test may configure another)."""
    global _sender
    layer = get_channel_layer()
    if _sender is None or _sender.layer is not layer:
        _sender = GroupSender(layer, timeout=PUBLISH_TIMEOUT / 2)
    return _sender


def publish_order_event(event: OrderEvent) -> None:
    """Send a committed event to live subscribers (publish_order_events of one)."""
    publish_order_events([event])


def publish_order_events(events: Sequence[OrderEvent]) -> None:
    """Send committed events of one order to live subscribers, in the order given, in one group send.

    The events are already stored, so a failure here costs subscribers nothing they cannot
    replay: it is logged, not raised.
    """
    if not events:
        return
    try:
        live = []
        for event in events:
            message = event_message(event)
            # Encoded once here, as the consumer's send_json would encode it for each subscriber.
            live.append({"type": EVENT_TYPE, "event": message, "text": json.dumps(message)})
        _group_sender().group_send(order_group(events[0].order_id), *live)
    except Exception:
        first, last = events[0].seq, events[-1].seq
        seqs = str(first) if first == last else f"{first} to {last}"
        logger.exception("could not publish event %s of order %s", seqs, events[0].order_id)


def publisher_start() -> None:
    """Connect this process's publisher to the channel layer and load its scripts now, before its first event.

    Otherwise the first event of a process pays for both, and a whole worker pool starting at once
    does so with its first orders. On the background thread, so that nothing waits for it: the
    first event, handed over there after it, is sent once it is done.
    """
    run_in_background(_connect)


def _connect() -> None:
    try:
        _group_sender().load_scripts()
    except Exception as exc:
        # Best effort: with the channel layer away now, the first event connects as it always could.
        logger.warning("publisher not connected at start: %s", exc or type(exc).__name__)
