"""The web hub's channel read straight from Redis: everything sent there, a burst in one read, in order,
and nothing of anybody else's."""

import asyncio

import pytest
import redis.asyncio as redis
from channels_redis.core import RedisChannelLayer

from orders.group_send import GroupSender
from orders.hub_inbox import LayerInbox, RedisInbox, hub_inbox

GROUP = "order.3f1c6a2e-0000-4000-8000-00000000beef"


@pytest.fixture
def layer(settings):
    layer = RedisChannelLayer(hosts=settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"], prefix="test-inbox")
    yield layer
    asyncio.run(_flushed(layer))


async def _flushed(layer: RedisChannelLayer) -> None:
    await layer.flush()
    await layer.close_pools()


def _event(seq: int) -> dict:
    return {"type": "order.event", "event": {"orderId": "x", "seq": seq}, "text": f'{{"seq": {seq}}}'}


def test_a_redis_layer_gets_the_batched_inbox_and_any_other_layer_the_layers_own_receive(layer):
    assert isinstance(hub_inbox(layer), RedisInbox)
    assert isinstance(hub_inbox(object()), LayerInbox)


def test_a_burst_sent_while_the_hub_was_busy_comes_in_one_read_in_the_order_sent(layer):
    async def scenario():
        inbox = RedisInbox(layer)
        await layer.group_add(GROUP, await inbox.new_channel())
        sender = GroupSender(layer, timeout=5)
        for seq in range(1, 31):
            await asyncio.to_thread(sender.group_send, GROUP, _event(seq))
        assert await asyncio.wait_for(inbox.receive(), 5) == [_event(seq) for seq in range(1, 31)]

    asyncio.run(scenario())


def test_an_idle_inbox_waits_for_the_next_message_and_returns_it_alone(layer):
    async def scenario():
        inbox = RedisInbox(layer)
        layer_admin = redis.Redis.from_url(layer.hosts[0]["address"])
        await layer.group_add(GROUP, await inbox.new_channel())
        waiting = asyncio.create_task(inbox.receive())
        # Sent only once the inbox's connection is blocked in its pop on the server.
        while not any(
            client["name"] == f"order-event-hub:{inbox.channel}" and client["cmd"] == "bzpopmin"
            for client in await layer_admin.client_list()
        ):
            await asyncio.sleep(0.01)
        assert not waiting.done()
        # channels-redis's own group send reaches the inbox as the publisher's does.
        await layer.group_send(GROUP, _event(7))
        assert await asyncio.wait_for(waiting, 5) == [_event(7)]
        await layer_admin.aclose()

    asyncio.run(scenario())


def test_the_inbox_takes_only_its_own_messages_and_the_layers_channels_keep_theirs(layer):
    async def scenario():
        inbox, other = RedisInbox(layer), RedisInbox(layer)
        plain = await layer.new_channel()
        for channel in (await inbox.new_channel(), plain):
            await layer.group_add(GROUP, channel)
        await asyncio.to_thread(GroupSender(layer, timeout=5).group_send, GROUP, _event(1))

        assert await asyncio.wait_for(inbox.receive(), 5) == [_event(1)]
        assert await asyncio.wait_for(layer.receive(plain), 5) == _event(1)
        assert await other.client.zcard(other.key) == 0
        assert await inbox.client.zcard(inbox.key) == 0

    asyncio.run(scenario())
