"""Prometheus metrics of the engine, counted in Redis: every web and worker process, on any
machine, adds to the same numbers, and any web process serves them all at /metrics.

Counting is best effort: a metric that cannot reach Redis is dropped and logged, never allowed to
fail the order it describes.
"""

import functools
import logging
import math
import os
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import redis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from orders.background import run_in_background

logger = logging.getLogger(__name__)

PREFIX = "metrics:"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
QUEUE = "celery"  # Celery's default queue, a Redis list on the broker


def _redis(url: str | None = None) -> redis.Redis:
    return _client(url or settings.REDIS_URL)


@functools.cache
def _client(url: str) -> redis.Redis:
    # One client per process and URL: its pool keeps the connections, instead of one TCP connect per
    # count (redis-py's pool is thread-safe and opens fresh connections in a forked child).
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=1)


def _bucket(seconds: float) -> str:
    return next(str(bound) for bound in BUCKETS if seconds <= bound)


def _observe(pipe, name: str, labels: str, seconds: float) -> None:
    pipe.hincrby(f"{PREFIX}{name}:count", labels, 1)
    pipe.hincrbyfloat(f"{PREFIX}{name}:sum", labels, seconds)
    pipe.hincrby(f"{PREFIX}{name}:bucket:{_bucket(seconds)}", labels, 1)


class Transition(NamedTuple):
    """An order left status `left` after `seconds_in_left` for `to`; `e2e_seconds` once it finished."""

    left: str
    to: str
    seconds_in_left: float
    e2e_seconds: float | None = None


def record_transitions(*, order_type: str, transitions: Sequence[Transition]) -> None:
    """Count the moves of one statement (a run of them, or one) in one round trip."""
    try:
        pipe = _redis().pipeline(transaction=False)
        for move in transitions:
            _observe(pipe, "status_seconds", move.left, move.seconds_in_left)
            if move.e2e_seconds is not None:
                pipe.hincrby(f"{PREFIX}orders_finished", f"{order_type}|{move.to}", 1)
                _observe(pipe, "end_to_end_seconds", order_type, move.e2e_seconds)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("metrics not recorded: %s", exc)


def count(name: str, label: str = "", amount: int = 1) -> None:
    """Add to a counter: `retries`, `venue_errors` (label: the venue), `websocket_subscribers`."""
    try:
        _redis().hincrby(f"{PREFIX}{name}", label, amount)
    except redis.RedisError as exc:
        logger.warning("metrics not recorded: %s", exc)


_pending: Counter = Counter()  # (name, label): the amount added here and not yet sent
_pending_lock = threading.Lock()
_flush_handed_over = False


def count_soon(name: str, label: str = "", amount: int = 1) -> None:
    """Add to a counter from the process's background thread, without waiting for Redis.

    What is added until the background thread gets to it goes in one round trip: a subscriber that
    comes and one that goes meanwhile cancel out, where each used to cost a round trip of its own.
    """
    global _flush_handed_over
    with _pending_lock:
        _pending[name, label] += amount
        if _flush_handed_over:
            return
        _flush_handed_over = True
    run_in_background(_flush_pending)


def _flush_pending() -> None:
    global _flush_handed_over
    with _pending_lock:
        amounts = [(name, label, amount) for (name, label), amount in _pending.items() if amount]
        _pending.clear()
        _flush_handed_over = False
    if not amounts:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for name, label, amount in amounts:
            pipe.hincrby(f"{PREFIX}{name}", label, amount)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("metrics not recorded: %s", exc)


def _forget_pending_after_fork() -> None:
    # A forked child counts from nothing, and the lock may have been held by a thread the child lacks.
    global _pending, _pending_lock, _flush_handed_over
    _pending, _pending_lock, _flush_handed_over = Counter(), threading.Lock(), False


os.register_at_fork(after_in_child=_forget_pending_after_fork)


class EngineCollector(Collector):
    """Reads the counts from Redis at each scrape."""

    def collect(self) -> Iterator:
        client = _redis()
        finished = CounterMetricFamily(
            "engine_orders_finished", "Orders that reached a final status", labels=["type", "status"]
        )
        for key, value in client.hgetall(f"{PREFIX}orders_finished").items():
            finished.add_metric(key.split("|"), float(value))
        yield finished
        yield self._histogram(
            client, "status_seconds", "engine_order_status_seconds", "Time spent in each status", "status"
        )
        yield self._histogram(
            client,
            "end_to_end_seconds",
            "engine_order_end_to_end_seconds",
            "Time from placing to a final status",
            "type",
        )
        retries = CounterMetricFamily("engine_order_retries", "Attempts that were tried again after a failure")
        retries.add_metric([], float(sum(float(v) for v in client.hgetall(f"{PREFIX}retries").values())))
        yield retries
        errors = CounterMetricFamily("engine_venue_errors", "Failed calls to a venue", labels=["venue"])
        for venue, value in client.hgetall(f"{PREFIX}venue_errors").items():
            errors.add_metric([venue], float(value))
        yield errors
        subscribers = GaugeMetricFamily("engine_websocket_subscribers", "Open order streams, over every web process")
        subscribers.add_metric(
            [], float(sum(float(v) for v in client.hgetall(f"{PREFIX}websocket_subscribers").values()))
        )
        yield subscribers
        queue = GaugeMetricFamily("engine_queue_depth", "Tasks waiting in the Celery queue")
        queue.add_metric([], float(_redis(settings.CELERY_BROKER_URL).llen(QUEUE)))
        yield queue

    @staticmethod
    def _histogram(client: redis.Redis, name: str, metric: str, documentation: str, label: str):
        family = HistogramMetricFamily(metric, documentation, labels=[label])
        counts = {bound: client.hgetall(f"{PREFIX}{name}:bucket:{bound}") for bound in map(str, BUCKETS)}
        sums = client.hgetall(f"{PREFIX}{name}:sum")
        for value in sorted(client.hgetall(f"{PREFIX}{name}:count")):
            cumulative, buckets = 0.0, []
            for bound in map(str, BUCKETS):
                cumulative += float(counts[bound].get(value, 0))
                buckets.append(("+Inf" if bound == "inf" else bound, cumulative))
            family.add_metric([value], buckets, sum_value=float(sums.get(value, 0)))
        return family
