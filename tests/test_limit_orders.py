"""Limit orders: they wait holding nothing, trigger when the market reaches their price, execute
never below it, and expire."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from dex.ledger import MemoryLedger
from dex.market import pair_position, position
from dex.router import build_router
from dex.venue import Simulation
from orders.execution import order_execute
from orders.models import Order, OrderEvent, OrderType
from orders.services import order_create
from orders.states import Status
from orders.triggers import orders_expire_due, orders_trigger_reached
from orders.venues import get_router
from tests.factories import AccountFactory


def test_the_market_walk_stays_in_its_band_moves_and_is_the_same_everywhere():
    positions = [position("SOL", t, seed=3, step_seconds=1.0) for t in range(2000)]

    assert all(-1 <= p <= 1 for p in positions)
    assert max(positions) - min(positions) > 0.5
    assert positions == [position("SOL", t, seed=3, step_seconds=1.0) for t in range(2000)]
    assert position("USDC", 10.0, seed=3, step_seconds=1.0) == 0.0
    assert pair_position("USDC", "SOL", 10.0, seed=3, step_seconds=1.0) == -position(
        "SOL", 10.0, seed=3, step_seconds=1.0
    )


def test_the_best_spot_price_is_the_best_venues_net_of_its_fee_and_inside_the_bands():
    router = build_router(simulation=Simulation(latency_scale=0, seed=4), ledger=MemoryLedger())
    for t in range(0, 4000, 7):
        nets = []
        for venue in router.venues.values():
            low, high = venue.band
            pool = venue.pools_between("SOL", "USDC", float(t))[("SOL", "USDC")].pool
            assert 100 * low <= pool.spot_price("SOL") <= 100 * high
            nets.append(pool.spot_price("SOL") * (1 - venue.fee_rate))
        assert router.best_spot_price("SOL", "USDC", float(t)) == pytest.approx(max(nets), rel=Decimal("1e-20"))


@pytest.fixture
def instant(venues):
    return venues(DEX_LATENCY_SCALE=0, DEX_SEED=5)


def place_limit(limit: str, *, expires_in: float = 3600) -> Order:
    return order_create(
        account=AccountFactory(),
        token_in="SOL",
        token_out="USDC",
        amount=Decimal("2"),
        type=OrderType.LIMIT,
        limit_price=Decimal(limit),
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )


@pytest.mark.django_db
def test_a_limit_order_waits_without_being_queued(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        order = place_limit("95")

    assert [(e.seq, e.status) for e in order.events.all()] == [(1, "pending"), (2, "waiting")]
    assert order.events.get(seq=2).data["limit_price"] == "95"
    assert [c.__qualname__ for c in callbacks if c.__qualname__ != "record_transitions"] == [
        "publish_order_event",
        "publish_order_events",
    ]
    assert order.next_check_at is None


@pytest.mark.django_db
def test_only_orders_whose_limit_is_reached_are_triggered(instant, django_capture_on_commit_callbacks):
    reachable, unreachable = place_limit("90"), place_limit("110")

    with django_capture_on_commit_callbacks() as callbacks:
        triggered = orders_trigger_reached()

    assert triggered == [reachable.id]
    assert [c.__qualname__ for c in callbacks] == ["Task.delay"]
    assert Order.objects.get(pk=unreachable.id).triggered_at is None


@pytest.mark.django_db
def test_a_triggered_order_executes_at_or_above_its_limit(instant):
    order = place_limit("90")
    orders_trigger_reached()

    order_execute(order_id=order.id)

    order.refresh_from_db()
    assert order.status == Status.CONFIRMED
    assert order.executed_price >= Decimal("90")
    assert order.min_amount_out >= Decimal("180")
    assert [e.status for e in order.events.all()] == [
        "pending",
        "waiting",
        "routing",
        "building",
        "submitted",
        "confirmed",
    ]


@pytest.mark.django_db
def test_a_triggered_order_whose_price_moved_away_goes_back_to_waiting(instant):
    order = place_limit("90")
    orders_trigger_reached()
    Order.objects.filter(pk=order.id).update(limit_price=Decimal("110"))

    assert order_execute(order_id=order.id) is None

    order.refresh_from_db()
    assert (order.status, order.triggered_at, order.attempts) == (Status.WAITING, None, 0)


@pytest.mark.django_db
def test_a_waiting_order_past_its_expiry_expires_and_never_executes(instant):
    order = place_limit("90", expires_in=3600)
    Order.objects.filter(pk=order.id).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert orders_expire_due() == [order.id]
    assert orders_trigger_reached() == []
    assert order_execute(order_id=order.id) is None
    order.refresh_from_db()
    assert order.status == Status.EXPIRED
    assert order.events.last().status == Status.EXPIRED


def wait_far_below_the_market(count: int) -> None:
    """Orders placed earlier that are waiting for a price the market will not reach."""
    account = AccountFactory()
    orders = Order.objects.bulk_create(
        Order(
            account=account,
            type=OrderType.LIMIT,
            token_in="SOL",
            token_out="USDC",
            amount=Decimal(1),
            limit_price=Decimal(1000),
            expires_at=timezone.now() + timedelta(hours=1),
            status=Status.WAITING,
            last_seq=2,
        )
        for _ in range(count)
    )
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, seq=seq, status=status, created_at=timezone.now())
        for order in orders
        for seq, status in ((1, Status.PENDING), (2, Status.WAITING))
    )


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_limit_orders_trigger_and_expire_on_the_real_stack_while_waiting_ones_hold_no_worker(live):
    beat = live.start_beat(ORDER_TRIGGER_INTERVAL="0.2")
    try:
        spot = get_router().best_spot_price("SOL", "USDC", time.time())
        reachable = live.place(type="limit", limitPrice=str((spot * Decimal("0.9")).quantize(Decimal("0.01"))))
        soon = (timezone.now() + timedelta(seconds=2)).isoformat()
        never = live.place(type="limit", limitPrice="1000", expiresAt=soon)
        wait_far_below_the_market(500)
        market = live.place()

        assert live.wait_terminal(market["orderId"])["status"] == "confirmed"
        filled = live.wait_terminal(reachable["orderId"])
        expired = live.wait_terminal(never["orderId"])
    finally:
        beat.stop()

    assert filled["status"] == "confirmed"
    assert Decimal(filled["executedPrice"]) >= Decimal(filled["limitPrice"])
    assert [e["status"] for e in expired["events"]] == ["pending", "waiting", "expired"]
    assert Order.objects.filter(status=Status.WAITING).count() == 500
