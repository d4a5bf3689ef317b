"""Request throttling that counts in the shared cache and fails open when the cache is away."""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle; with Redis unreachable a request is let through, not refused.

    An order that can be stored is worth more than a rate limit that cannot be counted for a few
    seconds; the database still caps each account's open orders.
    """

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning("throttle not applied, cache unreachable: %s", exc)
            return True
