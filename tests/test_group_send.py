"""The publisher's group send: what channels-redis's own would store, in two round trips."""

import asyncio
import logging
import socket
import time

import pytest
import redis
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured

from orders.group_send import GroupSender

GROUP = "order.3f1c6a2e-0000-4000-8000-00000000abcd"


@pytest.fixture
def layer(settings):
    # A layer of the test's own: its channels and groups are gone with the test, whatever it left behind.
    layer = RedisChannelLayer(
        hosts=settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"], prefix="test-send", capacity=3
    )
    yield layer
    asyncio.run(_flushed(layer))


async def _flushed(layer: RedisChannelLayer) -> None:
    await layer.flush()
    await layer.close_pools()


async def _members_of(layer: RedisChannelLayer, count: int) -> list[str]:
    channels = [await layer.new_channel() for _ in range(count)]
    for channel in channels:
        await layer.group_add(GROUP, channel)
    return channels


def _counted_sender(layer: RedisChannelLayer, monkeypatch) -> tuple[GroupSender, list[str]]:
    """A sender with its scripts loaded, and the list its Redis commands are recorded in from now on."""
    sender = GroupSender(layer, timeout=5)
    sender.load_scripts()
    client, commands = sender.clients[0], []

    def counted(*args, **options):
        commands.append(args[0])
        return type(client).execute_command(client, *args, **options)

    monkeypatch.setattr(client, "execute_command", counted)
    return sender, commands


def test_every_member_receives_the_message_through_the_layers_own_receive(layer):
    async def scenario():
        channels = await _members_of(layer, 2)
        other = await layer.new_channel()
        await asyncio.to_thread(GroupSender(layer, timeout=5).group_send, GROUP, {"type": "order.event", "n": 1})
        for channel in channels:
            assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "order.event", "n": 1}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(other), 0.2)

    asyncio.run(scenario())


def test_a_send_is_one_round_trip_for_the_members_and_one_for_their_messages(layer, monkeypatch):
    sender, commands = _counted_sender(layer, monkeypatch)
    sender.group_send(GROUP, {"type": "order.event"})
    assert commands == ["EVALSHA"]  # nobody in the group: nothing to deliver

    asyncio.run(_members_of(layer, 3))
    commands.clear()
    sender.group_send(GROUP, {"type": "order.event"})
    assert commands == ["EVALSHA", "EVALSHA"]


def test_messages_sent_together_reach_every_member_in_order_in_the_same_two_round_trips(layer, monkeypatch):
    channels = asyncio.run(_members_of(layer, 2))
    sender, commands = _counted_sender(layer, monkeypatch)
    sender.group_send(GROUP, *({"type": "order.event", "n": n} for n in range(1, 4)))
    assert commands == ["EVALSHA", "EVALSHA"]

    async def received():
        return [[(await layer.receive(channel))["n"] for _ in range(3)] for channel in channels]

    assert asyncio.run(received()) == [[1, 2, 3], [1, 2, 3]]


def test_a_member_at_its_capacity_gets_no_more_and_it_is_logged(layer, caplog):
    async def scenario():
        [channel] = await _members_of(layer, 1)
        sender = GroupSender(layer, timeout=5)
        with caplog.at_level(logging.INFO, logger="orders.group_send"):
            for n in range(layer.capacity + 1):
                await asyncio.to_thread(sender.group_send, GROUP, {"type": "order.event", "n": n})
        return [(await layer.receive(channel))["n"] for _ in range(layer.capacity)]

    assert asyncio.run(scenario()) == [0, 1, 2]
    assert "1 of 1 messages to 1 channels over capacity" in caplog.text


def test_scripts_the_server_lost_are_loaded_again(layer):
    async def scenario():
        [channel] = await _members_of(layer, 1)
        sender = GroupSender(layer, timeout=5)
        sender.load_scripts()
        sender.clients[0].script_flush()
        await asyncio.to_thread(sender.group_send, GROUP, {"type": "order.event"})
        return await asyncio.wait_for(layer.receive(channel), 5)

    assert asyncio.run(scenario()) == {"type": "order.event"}


def test_only_a_redis_layer_with_addresses_is_taken():
    with pytest.raises(ImproperlyConfigured):
        GroupSender(RedisChannelLayer(hosts=[{"sentinels": [("127.0.0.1", 26379)], "master_name": "m"}]), timeout=1)
    assert isinstance(GroupSender(get_channel_layer(), timeout=1).layer, RedisChannelLayer)


def test_a_redis_that_does_not_answer_is_tried_twice_then_given_up():
    # Connections complete into the listen backlog, and nothing ever answers on them.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        layer = RedisChannelLayer(hosts=[f"redis://127.0.0.1:{silent.getsockname()[1]}/0"])
        sender = GroupSender(layer, timeout=0.2)
        began = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            sender.group_send(GROUP, {"type": "order.event"})
        assert 0.4 <= time.monotonic() - began < 1.5
