"""Request throttling counted in the shared Redis, one atomic round trip per request, failing open
when Redis is away."""

import functools
import logging
import time
import uuid

import redis
from django.conf import settings
from rest_framework import throttling

logger = logging.getLogger(__name__)

KEY_PREFIX = "throttle:"

# A sliding log of the key's requests in a sorted set scored by time: drop those past the window,
# then admit and record this one if fewer than the limit remain, else answer the seconds until the
# oldest leaves the window. Read and write in one script: concurrent requests cannot both take the
# last place, as they could between DRF's read of the history and its write.
_TAKE = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now, ARGV[4])
    redis.call('PEXPIRE', key, math.ceil(window * 1000))
    return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


@functools.cache
def _take_script():
    # One client per process: its pool keeps the connections (thread-safe; a forked child opens its own).
    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"], socket_timeout=1)
    return client.register_script(_TAKE)


class _RedisSlidingLog(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's count, in one atomic round trip to Redis instead of reading and writing the
    whole history through the cache; with Redis unreachable a request is let through, not refused."""

    seconds_to_wait: float | None = None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        try:
            waited = _take_script()(
                keys=[KEY_PREFIX + key], args=[now, self.duration, self.num_requests, f"{now}:{uuid.uuid4().hex}"]
            )
        except redis.RedisError as exc:
            logger.warning("throttle not applied, Redis unreachable: %s", exc)
            return True
        if waited == 0:
            return True
        self.seconds_to_wait = float(waited)
        return False

    def wait(self) -> float | None:
        return self.seconds_to_wait


class ScopedRateThrottle(throttling.ScopedRateThrottle, _RedisSlidingLog):
    """DRF's scoped throttle: a rate per account and scope over a sliding window, counted in Redis.

    DRF's class reads the view's scope and its rate, then hands over to _RedisSlidingLog. Failing
    open: an order that can be stored is worth more than a rate limit that cannot be counted for a
    few seconds, and the database still caps each account's open orders.
    """
