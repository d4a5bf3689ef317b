"""Turns a stored event into the wire message and sends it to the order's group."""

import asyncio
import json
import logging
import os
import threading
from datetime import datetime, tzinfo
from uuid import UUID

from channels.layers import get_channel_layer
from django.utils import timezone

from orders.models import OrderEvent

logger = logging.getLogger(__name__)

EVENT_TYPE = "order.event"
# A publish waits this long for Redis at most; the event is stored, so subscribers replay it anyway.
PUBLISH_TIMEOUT = 5.0
# A process getting ready waits this long for the channel layer; past it, the first event connects.
START_TIMEOUT = 1.0
# No consumer joins it: a send to it is a round trip to the channel layer's Redis and nothing more.
START_GROUP = "publisher.start"

_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()


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


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """The process's own event loop, running on a thread of its own.

    async_to_sync would start a new loop on a new thread for each call from a worker, and
    channels-redis keeps its connections per loop, so every event would also open a Redis
    connection. A forked child starts its own loop: the parent's thread does not survive a fork.
    """
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="publisher", daemon=True).start()
        return _loop


def publish_order_event(event: OrderEvent) -> None:
    """Send a committed event to live subscribers.

    The event is already stored, so a failure here costs subscribers nothing they cannot
    replay: it is logged, not raised.
    """
    try:
        message = event_message(event)
        # Encoded once here, as the consumer's send_json would encode it for each subscriber.
        live = {"type": EVENT_TYPE, "event": message, "text": json.dumps(message)}
        send = get_channel_layer().group_send(order_group(event.order_id), live)
        future = asyncio.run_coroutine_threadsafe(send, _publisher_loop())
        try:
            future.result(PUBLISH_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise
    except Exception:
        logger.exception("could not publish event %s of order %s", event.seq, event.order_id)


def publisher_start() -> None:
    """Start this process's publisher and connect it to the channel layer now, before its first event.

    Otherwise the first event of a process pays for both: tens of milliseconds, over 100 ms when a
    whole worker pool starts at once and every process does so with its first order. Best effort:
    with the channel layer away now, the first event connects as it always could.
    """
    future = None
    try:
        send = get_channel_layer().group_send(START_GROUP, {"type": "publisher.start"})
        future = asyncio.run_coroutine_threadsafe(send, _publisher_loop())
        future.result(START_TIMEOUT)
    except Exception as exc:
        if future is not None:
            future.cancel()
        logger.warning("publisher not connected at start: %s", exc or type(exc).__name__)
