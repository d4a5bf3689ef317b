"""One channel-layer membership per web process and order, fanned out to the process's subscribers.

When each socket joined its order's group itself, the channel layer stored a copy of every event
per subscriber, and the process fetched each copy with round trips of its own: ten subscribers of
one order cost ten. Here the process joins once per order, receives each event once, and hands it
to each of its subscribers of that order in memory, in the order received.

An event the layer lost (a publish that failed, a channel over capacity or past its expiry) shows
as a gap at the order's next event, which the subscriber fills from the database; a final event has
no next one. So the hub also reads its orders' latest seqs every ORDER_STREAM_CHECK_SECONDS, and a
subscriber still behind a seq read at the check before reads what it missed.
"""

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from orders.hub_inbox import hub_inbox
from orders.publisher import order_group
from orders.selectors import order_last_seqs

logger = logging.getLogger(__name__)

# How long the reader waits before trying the channel layer again, doubling up to the second figure.
RETRY_SECONDS, RETRY_MAX_SECONDS = 0.25, 5.0
REPLAY_TYPE = "order.replay"


class Subscriber(Protocol):
    inbox: asyncio.Queue
    last_seq: int  # the seq of the last event it has sent on


# On the loop's thread pool, like the consumer's look-ups, not on the one thread sync_to_async shares.
_stored_seqs = database_sync_to_async(lambda order_ids: order_last_seqs(order_ids=order_ids), thread_sensitive=False)


@dataclass
class _Order:
    """An order's subscribers in this process, and the lock that keeps its membership changes in turn."""

    subscribers: set = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    busy: int = 0  # subscribe and unsubscribe calls under way


class OrderEventHub:
    """The order events of one event loop's subscribers: each order's group joined once, by one channel."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.source = hub_inbox(layer)
        self.channel = ""
        self.orders: dict[str, _Order] = {}
        self.reader: asyncio.Task | None = None
        # The seqs the last check read, and when the next one is due.
        self.stored: dict[str, int] = {}
        self.next_check = time.monotonic() + settings.ORDER_STREAM_CHECK_SECONDS
        self.checking: asyncio.Task | None = None

    async def subscribe(self, order_id: str, subscriber: Subscriber) -> None:
        """From now on, put every live event of the order into the subscriber's inbox."""
        if not self.channel:
            self.channel = await self.source.new_channel()
        if self.reader is None:
            self.reader = asyncio.create_task(self._read(), name="order-event-hub")
        async with self._turn(order_id) as order:
            order.subscribers.add(subscriber)
            try:
                # Joined again on every subscription, not only the first: that renews the membership,
                # which the layer forgets after its group expiry however many subscribers come and go.
                await self.source.join(order_group(order_id))
            except BaseException:
                order.subscribers.discard(subscriber)
                raise

    async def unsubscribe(self, order_id: str, subscriber: Subscriber) -> None:
        async with self._turn(order_id) as order:
            order.subscribers.discard(subscriber)
            if not order.subscribers:
                await self.layer.group_discard(order_group(order_id), self.channel)

    @contextlib.asynccontextmanager
    async def _turn(self, order_id: str) -> AsyncIterator[_Order]:
        order = self.orders.setdefault(order_id, _Order())
        order.busy += 1
        try:
            async with order.lock:
                yield order
        finally:
            order.busy -= 1
            if not order.busy and not order.subscribers:
                del self.orders[order_id]

    async def _read(self) -> None:
        while True:
            try:
                messages = await self.source.receive()
            except Exception as exc:
                await self._recover(exc)
                continue
            for message in messages:
                event = message.get("event")
                order = self.orders.get(event.get("orderId")) if isinstance(event, dict) else None
                for subscriber in order.subscribers if order else ():
                    subscriber.inbox.put_nowait(message)
            # The inbox answers at least every few seconds, with nothing if nothing came.
            if time.monotonic() >= self.next_check and (self.checking is None or self.checking.done()):
                self.next_check = time.monotonic() + settings.ORDER_STREAM_CHECK_SECONDS
                self.checking = asyncio.create_task(self.check_stored(), name="order-event-hub-check")

    async def check_stored(self) -> None:
        """Have every subscriber still behind a seq the previous check read read what it missed, and
        read the seqs again.

        A seq read one check ago was committed at least that long ago: its event has had the time to
        arrive, and one that has not is taken as lost. A newer one may still be on its way.
        """
        order_ids = [order_id for order_id, order in self.orders.items() if order.subscribers]
        try:
            stored = await _stored_seqs(order_ids) if order_ids else {}
        except Exception as exc:
            logger.warning("stored events not checked: %s", exc)
            return
        for order_id, seq in self.stored.items():
            order = self.orders.get(order_id)
            for subscriber in order.subscribers if order else ():
                if subscriber.last_seq < seq:
                    subscriber.inbox.put_nowait({"type": REPLAY_TYPE})
        self.stored = stored

    async def _recover(self, error: Exception) -> None:
        """Join every group again once the layer answers, then have every subscriber read what it missed.

        Whatever was published meanwhile did not come, and the layer may have lost the memberships.
        """
        delay = RETRY_SECONDS
        while True:
            logger.warning("order events not received: %s; trying again in %.2f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
            try:
                for order_id in [order_id for order_id, order in self.orders.items() if order.subscribers]:
                    await self.source.join(order_group(order_id))
            except Exception as exc:
                error = exc
                continue
            break
        for order in list(self.orders.values()):
            for subscriber in order.subscribers:
                subscriber.inbox.put_nowait({"type": REPLAY_TYPE})


_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def order_event_hub() -> OrderEventHub:
    """The running event loop's hub: a web process has one loop, a test may start several."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = OrderEventHub(get_channel_layer())
    return hub
