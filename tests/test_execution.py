"""Execution on a real Celery worker: retries, reconciliation, the concurrency limit, shutdown."""

import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest

from orders.models import Order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_failing_venues_are_retried_on_the_backoff_then_the_order_fails(engine):
    engine.start_worker(DEX_FAILURE_RATE="1.0")
    order_id = engine.place()["orderId"]

    order = engine.wait_terminal(order_id)

    assert order["status"] == "failed"
    assert order["attempts"] == 3
    assert "no venue could quote" in order["lastError"]
    failed = order["events"][-1]
    assert [e["status"] for e in order["events"]] == ["pending", "failed"]
    assert failed["data"]["attempts"] == 3
    assert failed["data"]["error"] == order["lastError"]
    failures = [_at(f["at"]) for f in order["failures"]]
    assert [f["attempt"] for f in order["failures"]] == [1, 2, 3]
    first_gap, second_gap = (failures[1] - failures[0]).total_seconds(), (failures[2] - failures[1]).total_seconds()
    assert 0.5 <= first_gap < 1.5
    assert 1.0 <= second_gap < 2.0


def test_retried_attempts_carry_their_reason_and_no_order_swaps_twice(engine):
    engine.start_worker(DEX_FAILURE_RATE="0.5")
    with ThreadPoolExecutor(10) as pool:
        order_ids = [placed["orderId"] for placed in pool.map(lambda _: engine.place(), range(20))]
        orders = list(pool.map(engine.wait_terminal, order_ids))

    retried = [e for o in orders for e in o["events"] if e["status"] == "routing" and e["data"]["attempt"] > 1]
    assert {o["status"] for o in orders} <= {"confirmed", "failed"}
    assert retried
    assert all(e["data"]["lastError"] for e in retried)
    for order in orders:
        swaps = engine.swaps(order["orderId"])
        assert len(swaps) == (1 if order["status"] == "confirmed" else 0)
        assert [e["seq"] for e in order["events"]] == list(range(1, len(order["events"]) + 1))


def test_retry_after_a_landed_swap_confirms_it_without_swapping_again(engine):
    engine.start_worker(DEX_LOST_RESPONSE_RATE="1.0")
    order_id = engine.place()["orderId"]

    order = engine.wait_terminal(order_id)

    swaps = engine.swaps(order_id)
    assert order["status"] == "confirmed"
    assert order["attempts"] == 1
    assert "may have landed" in order["failures"][0]["error"]
    assert len(swaps) == 1
    assert order["txHash"] == swaps[0].signature
    assert [e["status"] for e in order["events"]] == ["pending", "routing", "building", "submitted", "confirmed"]


def test_thirty_orders_at_once_never_run_more_than_ten_at_a_time(live):
    with ThreadPoolExecutor(15) as pool:
        order_ids = [placed["orderId"] for placed in pool.map(lambda _: live.place(), range(30))]
        orders = list(pool.map(live.wait_terminal, order_ids))

    # Each order executes at least from its routing event to its confirmation.
    moments = []
    for order in orders:
        assert order["status"] == "confirmed"
        times = {e["status"]: _at(e["timestamp"]) for e in order["events"]}
        moments += [(times["routing"], 1), (times["confirmed"], -1)]
    running = peak = 0
    for _, step in sorted(moments):
        running += step
        peak = max(peak, running)
    assert peak == 10


def test_worker_stopped_with_sigterm_finishes_its_orders_and_leaves_the_rest_queued(engine):
    engine.stop_worker()
    order_ids = [engine.place()["orderId"] for _ in range(40)]
    worker = engine.start_worker()
    with engine.stream(order_ids[0]) as stream:
        stream.until("submitted")

    assert worker.stop(signal.SIGTERM) == 0

    statuses = dict(Order.objects.filter(id__in=order_ids).values_list("id", "status"))
    assert set(statuses.values()) <= {"pending", "confirmed"}
    assert "confirmed" in statuses.values()
    assert "pending" in statuses.values()
    engine.start_worker()
    orders = [engine.wait_terminal(order_id) for order_id in order_ids]
    assert {o["status"] for o in orders} == {"confirmed"}
    assert all(len(engine.swaps(order_id)) == 1 for order_id in order_ids)


def test_a_worker_never_executes_a_cancelled_order(engine):
    engine.stop_worker()
    cancelled = engine.place()["orderId"]
    assert engine.http.post(f"/api/orders/{cancelled}/cancel").json()["status"] == "cancelled"
    after = engine.place()["orderId"]

    engine.start_worker()
    # The queue is first in, first out: once the later order is done, the cancelled one was seen.
    assert engine.wait_terminal(after)["status"] == "confirmed"

    order = engine.http.get(f"/api/orders/{cancelled}/").json()
    assert [e["status"] for e in order["events"]] == ["pending", "cancelled"]
    assert engine.swaps(cancelled) == []


def test_a_swap_the_market_moved_past_its_minimum_fails_with_its_reason_and_swaps_nothing(engine):
    engine.start_worker(DEX_EXECUTION_DRIFT="-0.05")
    order_id = engine.place(slippageBps=100)["orderId"]

    order = engine.wait_terminal(order_id)

    reason = order["failureReason"]
    assert order["status"] == "failed"
    assert reason["code"] == "SLIPPAGE_EXCEEDED"
    assert Decimal(reason["actual"]) < Decimal(reason["minimum"]) == Decimal(order["minAmountOut"])
    assert order["events"][-1]["data"]["reason"] == reason
    assert engine.swaps(order_id) == []
