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


def test_joining_a_group_stores_the_membership_and_expiry_the_layers_group_add_stores(layer):
    async def scenario():
        inbox = RedisInbox(layer)
        admin = redis.Redis.from_url(layer.hosts[0]["address"])
        key = layer._group_key(GROUP)

        async def commands() -> int:
            stats = await admin.info("commandstats")
            return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("zadd", "expire"))

        before = await commands()
        await inbox.join(GROUP)
        joined = await admin.zrange(key, 0, -1, withscores=True)
        expiry = await admin.ttl(key)
        await layer.group_discard(GROUP, inbox.channel)
        await layer.group_add(GROUP, inbox.channel)

        # The same two commands each way, the join's sent together.
        assert await commands() - before == 4
        assert [member for member, _ in joined] == [inbox.channel.encode()]
        assert [member for member, _ in await admin.zrange(key, 0, -1, withscores=True)] == [inbox.channel.encode()]
        assert layer.group_expiry - 2 <= expiry <= layer.group_expiry
        # A message sent to the group reaches the inbox that joined it.
        await layer.group_send(GROUP, _event(3))
        assert await asyncio.wait_for(inbox.receive(), 5) == [_event(3)]
        await admin.aclose()

    asyncio.run(scenario())
