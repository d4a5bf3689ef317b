"""The web process's hub of order events: one membership per order, every subscriber served, nothing
missed while the channel layer is away."""

import asyncio
from collections import defaultdict

import pytest
from channels.layers import get_channel_layer

from orders.fanout import REPLAY_TYPE, OrderEventHub
from orders.publisher import EVENT_TYPE, order_group

ORDER, OTHER = "3f1c6a2e-0000-4000-8000-000000000001", "3f1c6a2e-0000-4000-8000-000000000002"


class Subscriber:
    def __init__(self, last_seq: int = 0) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.last_seq = last_seq


def _event(order_id: str, seq: int) -> dict:
    return {"type": EVENT_TYPE, "event": {"orderId": order_id, "seq": seq}}


class FakeLayer:
    """Group memberships and a channel's messages in memory; an exception put among the messages is raised
    by the receive that gets it."""

    def __init__(self) -> None:
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.messages: asyncio.Queue = asyncio.Queue()

    async def new_channel(self) -> str:
        return "specific.test!hub"

    async def group_add(self, group: str, channel: str) -> None:
        self.groups[group].add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups[group].discard(channel)

    async def receive(self, channel: str) -> dict:
        message = await self.messages.get()
        if isinstance(message, Exception):
            raise message
        return message


async def test_every_subscriber_of_an_order_gets_each_event_over_one_real_membership():
    hub = OrderEventHub(get_channel_layer())
    first, second, elsewhere = Subscriber(), Subscriber(), Subscriber()
    await hub.subscribe(ORDER, first)
    await hub.subscribe(ORDER, second)
    await hub.subscribe(OTHER, elsewhere)

    await get_channel_layer().group_send(order_group(ORDER), _event(ORDER, 2))

    for subscriber in (first, second):
        message = await asyncio.wait_for(subscriber.inbox.get(), 5)
        assert message["event"] == {"orderId": ORDER, "seq": 2}
    assert elsewhere.inbox.empty()
    for order_id, subscriber in ((ORDER, first), (ORDER, second), (OTHER, elsewhere)):
        await hub.unsubscribe(order_id, subscriber)
    hub.reader.cancel()


async def test_the_process_joins_an_orders_group_once_and_leaves_it_with_its_last_subscriber():
    layer = FakeLayer()
    hub = OrderEventHub(layer)
    subscribers = [Subscriber() for _ in range(10)]
    for subscriber in subscribers:
        await hub.subscribe(ORDER, subscriber)

    assert layer.groups[order_group(ORDER)] == {"specific.test!hub"}
    for subscriber in subscribers[:-1]:
        await hub.unsubscribe(ORDER, subscriber)
    assert layer.groups[order_group(ORDER)] == {"specific.test!hub"}

    await layer.messages.put(_event(ORDER, 3))
    assert (await asyncio.wait_for(subscribers[-1].inbox.get(), 5))["event"]["seq"] == 3
    assert all(subscriber.inbox.empty() for subscriber in subscribers[:-1])

    await hub.unsubscribe(ORDER, subscribers[-1])
    assert layer.groups[order_group(ORDER)] == set()
    assert hub.orders == {}
    hub.reader.cancel()


async def test_a_subscriber_whose_join_fails_is_not_kept():
    layer = FakeLayer()
    hub = OrderEventHub(layer)

    async def refuse(group: str, channel: str) -> None:
        raise ConnectionError("channel layer away")

    layer.group_add = refuse
    with pytest.raises(ConnectionError):
        await hub.subscribe(ORDER, Subscriber())

    assert hub.orders == {}
    hub.reader.cancel()


async def test_after_losing_the_layer_the_hub_joins_again_and_every_subscriber_replays(monkeypatch):
    monkeypatch.setattr("orders.fanout.RETRY_SECONDS", 0.01)
    layer = FakeLayer()
    hub = OrderEventHub(layer)
    first, second = Subscriber(), Subscriber()
    await hub.subscribe(ORDER, first)
    await hub.subscribe(OTHER, second)
    # The layer restarted empty: it forgot the memberships, and the reader's pending receive fails.
    layer.groups.clear()
    await layer.messages.put(ConnectionError("connection reset"))

    for subscriber in (first, second):
        assert (await asyncio.wait_for(subscriber.inbox.get(), 5))["type"] == REPLAY_TYPE
    assert layer.groups[order_group(ORDER)] == layer.groups[order_group(OTHER)] == {"specific.test!hub"}
    await layer.messages.put(_event(ORDER, 10))
    assert (await asyncio.wait_for(first.inbox.get(), 5))["event"]["seq"] == 10
    hub.reader.cancel()


async def test_a_subscriber_behind_a_seq_read_one_check_before_and_only_it_reads_what_it_missed(monkeypatch):
    async def stored(order_ids):
        return {order_id: {ORDER: 3, OTHER: 2}[order_id] for order_id in order_ids}

    monkeypatch.setattr("orders.fanout._stored_seqs", stored)
    hub = OrderEventHub(FakeLayer())
    behind, current, elsewhere = Subscriber(last_seq=2), Subscriber(last_seq=3), Subscriber(last_seq=2)
    for order_id, subscriber in ((ORDER, behind), (ORDER, current), (OTHER, elsewhere)):
        await hub.subscribe(order_id, subscriber)

    # Seq 3 may still be on its way at the first check that reads it; at the next one it is late.
    await hub.check_stored()
    assert all(subscriber.inbox.empty() for subscriber in (behind, current, elsewhere))
    await hub.check_stored()

    assert behind.inbox.get_nowait() == {"type": REPLAY_TYPE}
    assert current.inbox.empty() and elsewhere.inbox.empty()
    hub.reader.cancel()
