"""Request throttling that counts in the shared cache and fails open when the cache is away."""

import functools
import logging

from django.core.cache import BaseCache, caches
from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


@functools.cache
def _process_cache() -> BaseCache:
    # django.core.cache.cache is one object per request context, and under ASGI every request is a
    # context of its own: its Redis client, and so a new connection, would last one request.
    return caches.create_connection("default")


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle; with Redis unreachable a request is let through, not refused.

    An order that can be stored is worth more than a rate limit that cannot be counted for a few
    seconds; the database still caps each account's open orders.
    """

    @property
    def cache(self) -> BaseCache:
        return _process_cache()

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle not applied, cache unreachable: %s", exc)
            return True
