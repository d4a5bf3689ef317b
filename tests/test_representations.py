"""The directly built order shapes are byte for byte what the declared serializer fields write."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import RequestFactory
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from orders.execution import order_execute
from orders.models import Order, OrderType
from orders.quoting import route_data
from orders.serializers import OrderDetailSerializer, OrderPlacedSerializer, OrderSerializer
from orders.states import Status
from tests.factories import AccountFactory, OrderEventFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db

EXECUTE = "/api/orders/execute"
PLUS_TWO = timezone(timedelta(hours=2))


def rendered(data) -> bytes:
    return JSONRenderer().render(data)


def assert_same(fast, declared) -> None:
    assert fast == declared
    assert rendered(fast) == rendered(declared)


@pytest.fixture
def router(venues):
    return venues(DEX_LATENCY_SCALE=0, DEX_SEED=1)


@pytest.fixture
def routes(router):
    def route(token_in: str, token_out: str, amount: int) -> dict:
        return route_data(router.route(token_in, token_out, Decimal(amount), key=f"{token_in}{token_out}").best)

    split = route("SOL", "USDC", 3000)
    assert split["kind"] == "split"
    return {
        "split": split,
        "direct": route("SOL", "USDC", 1),
        "two_hop": route("BONK", "JUP", 1_000_000),
        # No venue routed alone: the gain is null, or absent from a route stored before it was kept.
        "no_gain": {**split, "gain_bps": None},
        "no_gain_key": {key: value for key, value in split.items() if key != "gain_bps"},
    }


def with_events(order: Order, *steps: tuple[str, dict, datetime]) -> Order:
    for seq, (status, data, created_at) in enumerate(steps, 1):
        OrderEventFactory(order=order, seq=seq, status=status, data=data, created_at=created_at)
    order.last_seq = len(steps)
    order.save(update_fields=["last_seq"])
    return order


@pytest.fixture
def orders(routes, router) -> dict[str, Order]:
    """One order of each kind the history holds, each with the events it would have."""
    account = AccountFactory()
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    split = routes["split"]

    def order(**fields) -> Order:
        return OrderFactory(account=account, **fields)

    executed = order(amount=Decimal(3), last_seq=1)
    OrderEventFactory(order=executed, seq=1, status=Status.PENDING, data={"amount": "3"})
    order_execute(order_id=executed.id)

    return {
        "market pending": with_events(order(), (Status.PENDING, {}, at)),
        "confirmed with a split route": with_events(
            order(
                amount=Decimal("3000.000"),
                status=Status.CONFIRMED,
                venue=split["venue"],
                route=split,
                tx_hash="5" * 88,
                expected_amount_out=Decimal(split["amount_out"]),
                min_amount_out=Decimal("298012.100000"),
                amount_out=Decimal("299123.654321"),
                executed_price=Decimal("99.707884773333333333"),
                attempts=1,
                slippage_bps=75,
            ),
            (Status.PENDING, {"amount": "3000"}, at),
            (Status.ROUTING, {"attempt": 1}, at + timedelta(microseconds=9)),
            (
                Status.BUILDING,
                {"route": split, "quotes": [{"venue": "raydium", "amount_out": "1"}]},
                at.replace(microsecond=0),
            ),
            (Status.SUBMITTED, {"tx_hash": "5" * 88, "valid_until": at.isoformat()}, at.astimezone(PLUS_TWO)),
            (Status.CONFIRMED, {"amount_out": "299123.654321", "nested": {"snake_key": [1, 2.5, None, True]}}, at),
        ),
        "confirmed, executed in process": Order.objects.get(pk=executed.pk),
        "confirmed direct, no gain": order(status=Status.CONFIRMED, venue="raydium", route=routes["no_gain"]),
        "confirmed direct": order(status=Status.CONFIRMED, venue="raydium", route=routes["direct"]),
        "confirmed two hop": order(
            token_in="BONK",
            token_out="JUP",
            amount=Decimal(1_000_000),
            status=Status.CONFIRMED,
            route=routes["two_hop"],
        ),
        "route stored without a gain": order(status=Status.SUBMITTED, route=routes["no_gain_key"]),
        "failed": with_events(
            order(
                status=Status.FAILED,
                attempts=3,
                last_error="raydium: timeout after 2.0 s",
                failures=[
                    {"attempt": n, "error": f"timeout {n}", "at": "2026-03-04T05:06:07.891011+00:00"} for n in (1, 2, 3)
                ],
                failure_reason={"code": "SLIPPAGE_EXCEEDED", "min_amount_out": "9.5", "quoted": None},
                expected_amount_out=Decimal("10.000000000000000001"),
                min_amount_out=Decimal("0E-18"),
            ),
            (Status.PENDING, {}, at),
            (Status.ROUTING, {"attempt": 1, "last_error": "x"}, at),
            (Status.FAILED, {"error": "timeout 3", "attempts": 3, "reason": {"code": "SLIPPAGE_EXCEEDED"}}, at),
        ),
        "limit waiting": with_events(
            order(
                type=OrderType.LIMIT,
                status=Status.WAITING,
                amount=Decimal("0.000000001"),
                limit_price=Decimal("0.0123456789012345678"),
                expires_at=datetime(2026, 3, 5, 1, 2, 3, 4, tzinfo=PLUS_TWO),
            ),
            (Status.PENDING, {}, at),
            (Status.WAITING, {"limit_price": "0.0123456789012345678"}, at),
        ),
        "limit expired": order(
            type=OrderType.LIMIT,
            status=Status.EXPIRED,
            limit_price=Decimal("1E+2"),
            expires_at=datetime(2026, 3, 5, tzinfo=UTC),
        ),
        "sniper": order(
            type=OrderType.SNIPER,
            token_in="USDC",
            token_out="SNIPE",
            amount=Decimal("99999999999999999999.999999999999999999"),
            max_price=Decimal("0.02"),
            status=Status.WAITING,
            expires_at=datetime(2026, 3, 5, 6, 7, 8, tzinfo=UTC),
        ),
        "cancelled": with_events(
            order(status=Status.CANCELLED, amount=Decimal("12.500")),
            (Status.PENDING, {}, at),
            (Status.CANCELLED, {"by": "account"}, at + timedelta(seconds=1)),
        ),
    }


def as_stored(order: Order) -> Order:
    """The order as the detail view reads it: from the database, with its events prefetched."""
    return Order.objects.prefetch_related("events").get(pk=order.pk)


KINDS = [
    "market pending",
    "confirmed with a split route",
    "confirmed, executed in process",
    "confirmed direct, no gain",
    "confirmed direct",
    "confirmed two hop",
    "route stored without a gain",
    "failed",
    "limit waiting",
    "limit expired",
    "sniper",
    "cancelled",
]


def test_the_set_covers_every_kind(orders):
    assert list(orders) == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_an_order_row_is_byte_for_byte_the_declared_one(orders, kind):
    for order in (orders[kind], as_stored(orders[kind])):
        serializer = OrderSerializer(order)
        assert_same(serializer.data, serializer.declared_representation(order))


def test_a_page_of_rows_is_byte_for_byte_the_declared_one(orders):
    page = list(Order.objects.filter(pk__in=[order.pk for order in orders.values()]))

    declared = [OrderSerializer().declared_representation(order) for order in page]
    assert_same(OrderSerializer(page, many=True).data, declared)


@pytest.mark.parametrize("kind", KINDS)
def test_an_order_detail_is_byte_for_byte_the_declared_one(orders, kind):
    for order in (orders[kind], as_stored(orders[kind])):
        serializer = OrderDetailSerializer(order)
        assert_same(serializer.data, serializer.declared_representation(order))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("secure", [False, True])
def test_a_placed_body_is_byte_for_byte_the_declared_one(orders, kind, rf, secure):
    request = rf.post(EXECUTE, secure=secure)
    for order in (orders[kind], as_stored(orders[kind])):
        serializer = OrderPlacedSerializer(order, context={"request": request})
        assert_same(serializer.data, serializer.declared_representation(order))


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata"])
def test_times_are_written_in_the_current_time_zone_as_the_fields_write_them(orders, zone):
    order = as_stored(orders["confirmed with a split route"])
    with django_timezone.override(ZoneInfo(zone)):
        detail = OrderDetailSerializer(order)
        assert_same(detail.data, detail.declared_representation(order))
        assert not detail.data["createdAt"].endswith("Z")


def test_the_api_answers_with_the_declared_bytes(orders):
    token = TokenFactory(user=next(iter(orders.values())).account)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    page = api.get("/api/orders/")
    ids = [row["orderId"] for row in page.data["results"]]
    results = [OrderSerializer().declared_representation(Order.objects.get(pk=pk)) for pk in ids]
    assert page.status_code == 200
    assert sorted(ids) == sorted(str(order.pk) for order in orders.values())
    assert page.content == rendered({**page.data, "results": results})

    order = orders["confirmed with a split route"]
    detail = api.get(f"/api/orders/{order.pk}/")
    assert detail.status_code == 200
    assert detail.content == rendered(OrderDetailSerializer().declared_representation(as_stored(order)))

    placed = api.post(EXECUTE, {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "10.50"}, format="json")
    serializer = OrderPlacedSerializer(context={"request": placed.wsgi_request})
    assert placed.status_code == 201
    assert placed.content == rendered(
        serializer.declared_representation(Order.objects.get(pk=placed.json()["orderId"]))
    )


amounts = st.decimals(min_value=Decimal("-1e30"), max_value=Decimal("1e30"), allow_nan=False, allow_infinity=False)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, PLUS_TWO, ZoneInfo("America/New_York")]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=amounts,
    optional=st.lists(st.none() | amounts, min_size=5, max_size=5),
    created_at=moments,
    expires_at=st.none() | moments,
)
def test_amounts_and_times_of_any_order_are_written_as_the_fields_write_them(amount, optional, created_at, expires_at):
    limit_price, expected, minimum, amount_out, executed_price = optional
    order = Order(
        id=uuid.uuid4(),
        amount=amount,
        token_in="SOL",
        token_out="USDC",
        limit_price=limit_price,
        expected_amount_out=expected,
        min_amount_out=minimum,
        amount_out=amount_out,
        executed_price=executed_price,
        expires_at=expires_at,
        created_at=created_at,
        updated_at=created_at,
    )

    placed = {"request": RequestFactory().post(EXECUTE)}
    for serializer in (OrderSerializer(order), OrderPlacedSerializer(order, context=placed)):
        assert_same(serializer.data, serializer.declared_representation(order))
