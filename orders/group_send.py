"""A channel-layer group send from synchronous code, in two round trips to Redis.

channels-redis's own group_send is a coroutine of four round trips: drop the group's expired
members, read the members, drop each member's expired messages, then add the message to each member
below its capacity. From a worker it also needed an event loop on a thread of its own, and a hop to
that thread for every event. Here the same steps run as two Lua scripts on a synchronous client:
one for the members, then one per Redis server for the messages. The keys, the serialised messages,
the expiry and the capacities are the layer's own, so its receivers cannot tell the difference.
Several messages to one group (the events one statement stored) go in the same two round trips.
"""

import logging
import time
from collections import defaultdict

import redis
from channels_redis.core import RedisChannelLayer
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

MEMBERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS: a channel key per message, a member's key once for each message it gets; ARGV: a message per
# key, a capacity per key, a score per key (later messages score higher, so a receiver takes them in
# turn), then the expiry in seconds and the score below which a message has expired.
DELIVER = """
local keys = #KEYS
local expiry, expired = ARGV[3 * keys + 1], ARGV[3 * keys + 2]
local over_capacity = 0
for i = 1, keys do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, expired)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[keys + i]) then
        redis.call('ZADD', KEYS[i], ARGV[2 * keys + i], ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


class GroupSender:
    """group_send for a RedisChannelLayer's groups; thread-safe, one per process and layer.

    `timeout`: seconds a connection or a reply is waited for. A round trip that fails is tried once more, on
    a fresh connection (Redis may have restarted), and no more: redis-py's own default is three more tries
    with growing pauses, which would hold the events queued behind this one for tens of seconds.
    """

    def __init__(self, layer: RedisChannelLayer, *, timeout: float) -> None:
        if not isinstance(layer, RedisChannelLayer) or any("address" not in host for host in layer.hosts):
            raise ImproperlyConfigured(
                "order events are published to a channels_redis.core.RedisChannelLayer whose hosts have an address"
            )
        self.layer = layer
        self.clients = [
            redis.Redis.from_url(
                host["address"], socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 1)
            )
            for host in layer.hosts
        ]
        # Scripts run by their digest and are loaded again if the server has lost them (a restart).
        self.members = [client.register_script(MEMBERS) for client in self.clients]
        self.deliver = [client.register_script(DELIVER) for client in self.clients]

    def group_send(self, group: str, *messages: dict) -> None:
        """Add each message to every member's channel; a member receives them in the order given."""
        layer = self.layer
        assert layer.require_valid_group_name(group), "Group name not valid"
        members = self.members[layer.consistent_hash(group)](
            keys=[layer._group_key(group)], args=[int(time.time()) - layer.group_expiry]
        )
        channels = [member.decode() for member in members]
        # Per server: (channel key, serialised message, capacity, place of the message) in the order to add them.
        deliveries: dict[int, list[tuple[str, bytes, int, int]]] = defaultdict(list)
        for place, message in enumerate(messages):
            by_server, serialised, capacities = layer._map_channel_keys_to_connection(channels, message)
            for index, keys in by_server.items():
                deliveries[index] += [(key, serialised[key], capacities[key], place) for key in keys]
        for index, entries in deliveries.items():
            now = time.time()
            keys = [key for key, *_ in entries]
            args = [*(body for _, body, _, _ in entries), *(capacity for _, _, capacity, _ in entries)]
            # A message a microsecond after the one before: a float near today's epoch still tells them
            # apart (its step is 0.24 µs), and the next send comes round trips later.
            args += [repr(now + place * 1e-6) for *_, place in entries]
            args += [layer.expiry, int(now) - int(layer.expiry)]
            over_capacity = self.deliver[index](keys=keys, args=args)
            if over_capacity:
                logger.info(
                    "%s of %s messages to %s channels over capacity in group %s",
                    over_capacity,
                    len(entries),
                    len(channels),
                    group,
                )

    def load_scripts(self) -> None:
        """Connect to every server and load the scripts there, so that the first send needs neither."""
        for client in self.clients:
            client.pipeline(transaction=False).script_load(MEMBERS).script_load(DELIVER).execute()
