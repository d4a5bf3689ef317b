"""The web hub's channel on the channel layer, read in batches straight from Redis.

channels-redis's receive takes four round trips a message, one after another: a cleanup script, a
blocking pop, a copy into a backup queue and its removal. When a worker moved ten orders at once,
the thirty events queued behind each other on the hub's channel, and the last of them reached the
web over a hundred milliseconds after its commit. Here the hub's channel has a Redis key of its
own, and one pop takes every message waiting there: one round trip for a burst, two for an event
on its own. The backup queue guards a message against a receiver cancelled mid-read; the hub
needs none, as a read that fails makes every subscriber fill its gap from the database
(orders.fanout).
"""

import time
import uuid

import redis.asyncio as redis
from channels_redis.core import RedisChannelLayer

# Seconds the blocking pop waits on an idle channel before it asks again.
BLOCK_SECONDS = 5


class LayerInbox:
    """A channel of the layer's own naming, one message per receive: for layers other than Redis."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.channel = ""

    async def new_channel(self) -> str:
        self.channel = await self.layer.new_channel()
        return self.channel

    async def receive(self) -> list[dict]:
        return [await self.layer.receive(self.channel)]

    async def join(self, group: str) -> None:
        await self.layer.group_add(group, self.channel)


class RedisInbox:
    """A process-local channel whose messages only this inbox reads, popped from Redis in batches."""

    def __init__(self, layer: RedisChannelLayer) -> None:
        self.layer = layer
        # A client prefix of its own: the layer keeps every channel under one prefix in one sorted set,
        # and this inbox takes everything in its set.
        self.channel = f"specific.{uuid.uuid4().hex}!hub"
        shared_name = layer.non_local_name(self.channel)
        self.key = layer.prefix + shared_name
        self.batch = layer.get_capacity(self.channel)
        address = layer.hosts[layer.consistent_hash(shared_name)]["address"]
        self.client = redis.Redis.from_url(
            address,
            socket_connect_timeout=5,
            socket_timeout=BLOCK_SECONDS + 10,
            # Named in Redis's CLIENT LIST, so an operator can tell the hubs' blocking pops apart.
            client_name=f"order-event-hub:{self.channel}",
        )

    async def new_channel(self) -> str:
        return self.channel

    async def join(self, group: str) -> None:
        """The layer's group_add, in one round trip where it takes two: the membership, then its expiry."""
        layer = self.layer
        assert layer.require_valid_group_name(group), "Group name not valid"
        key = layer._group_key(group)
        async with layer.connection(layer.consistent_hash(group)).pipeline(transaction=False) as pipe:
            pipe.zadd(key, {self.channel: time.time()})
            pipe.expire(key, layer.group_expiry)
            await pipe.execute()

    async def receive(self) -> list[dict]:
        """The messages waiting, oldest first; at least one, unless BLOCK_SECONDS pass without any."""
        popped = await self.client.zpopmin(self.key, self.batch)
        if not popped:
            first = await self.client.bzpopmin(self.key, timeout=BLOCK_SECONDS)
            popped = [first[1:]] if first else []
        messages = []
        for member, _ in popped:
            message = self.layer.deserialize(member)
            message.pop("__asgi_channel__", None)
            messages.append(message)
        return messages


def hub_inbox(layer) -> LayerInbox | RedisInbox:
    if isinstance(layer, RedisChannelLayer) and all("address" in host for host in layer.hosts):
        return RedisInbox(layer)
    return LayerInbox(layer)
