"""/metrics: Prometheus text whose counters move as orders confirm and fail."""

import contextlib
import re
import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orders import metrics
from orders.background import run_in_background, wait_for_background
from orders.execution import order_execute
from orders.services import order_fail
from orders.states import Status
from tests.factories import OrderEventFactory, OrderFactory

pytestmark = pytest.mark.django_db


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def finished(samples: dict, status: str) -> float:
    return samples.get(("engine_orders_finished_total", (("status", status), ("type", "market"))), 0.0)


def test_counters_move_when_an_order_confirms_and_when_one_fails(client, venues, django_capture_on_commit_callbacks):
    venues(DEX_LATENCY_SCALE=0, DEX_SEED=3)
    before = scrape(client)
    confirmed, failed = OrderFactory(last_seq=1), OrderFactory(last_seq=1)
    for order in (confirmed, failed):
        OrderEventFactory(order=order, seq=1, status=Status.PENDING)

    with django_capture_on_commit_callbacks(execute=True):
        order_execute(order_id=confirmed.id)
        order_fail(order_id=failed.id, error="venue down", attempts=3)
    # Counted on the background thread after commit, as a task waits for before it ends.
    assert wait_for_background(5)
    after = scrape(client)

    assert finished(after, "confirmed") == finished(before, "confirmed") + 1
    assert finished(after, "failed") == finished(before, "failed") + 1
    e2e = ("engine_order_end_to_end_seconds_count", (("type", "market"),))
    assert after[e2e] == before.get(e2e, 0) + 2
    # Routing and building are left in the statement that enters submitted; each is counted all the same.
    for status in ("pending", "routing", "building", "submitted"):
        left = ("engine_order_status_seconds_count", (("status", status),))
        assert after[left] == before.get(left, 0) + (2 if status == "pending" else 1), status
    assert ("engine_queue_depth", ()) in after
    assert ("engine_websocket_subscribers", ()) in after


def test_metrics_are_prometheus_text_with_help_lines(client):
    text = client.get("/metrics").content.decode()

    for name in (
        "engine_orders_finished_total",
        "engine_order_retries_total",
        "engine_venue_errors_total",
        "engine_queue_depth",
    ):
        assert re.search(rf"^# HELP {name} ", text, re.M), name


@contextlib.contextmanager
def background_thread_busy():
    """Keep the process's background thread busy until the block ends, then wait for what was handed over."""
    busy, release = threading.Event(), threading.Event()
    run_in_background(lambda: (busy.set(), release.wait(5)))
    assert busy.wait(5)
    try:
        yield
    finally:
        release.set()
    assert wait_for_background(5)


def hincrby_calls(store) -> int:
    return store.info("commandstats").get("cmdstat_hincrby", {}).get("calls", 0)


def test_counts_added_before_the_background_thread_gets_to_them_go_in_one_round_trip(client):
    store = metrics._redis()
    key = f"{metrics.PREFIX}websocket_subscribers"
    before, calls = float(store.hget(key, "") or 0), hincrby_calls(store)

    with background_thread_busy():
        # Two sockets come, one goes, and one comes and goes.
        for amount in (1, 1, -1, 1, -1):
            metrics.count_soon("websocket_subscribers", "", amount)

    assert float(store.hget(key, "")) == before + 1
    assert hincrby_calls(store) - calls == 1
    assert scrape(client)[("engine_websocket_subscribers", ())] == before + 1
    with background_thread_busy():
        metrics.count_soon("websocket_subscribers", "", 1)
        metrics.count_soon("websocket_subscribers", "", -1)
    # A socket that came and went meanwhile cost no round trip at all.
    assert hincrby_calls(store) - calls == 1
