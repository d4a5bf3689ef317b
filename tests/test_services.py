"""The order services in-process: execution, failure, the publish after commit, the retry countdown."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.db.models import sql
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dex.errors import QuoteExpired
from dex.ledger import swaps_for
from orders.exceptions import TooManyOpenOrders
from orders.execution import order_execute, retry_countdown
from orders.models import Order, OrderEvent, OrderType
from orders.publisher import event_message
from orders.services import _insert_sql, order_begin_first_attempt, order_create, order_fail, order_record_failure
from orders.states import Status
from tests.factories import AccountFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def instant_venues(venues):
    return venues(DEX_LATENCY_SCALE=0, DEX_SEED=11)


def test_execute_moves_an_order_through_every_status_and_records_the_swap(
    instant_venues, django_capture_on_commit_callbacks
):
    order = OrderFactory(last_seq=1)

    with django_capture_on_commit_callbacks() as callbacks:
        retry_in = order_execute(order_id=order.id)

    order.refresh_from_db()
    events = list(order.events.all())
    [swap] = swaps_for(instant_venues.ledger, str(order.id))
    assert retry_in is None
    assert order.status == Status.CONFIRMED
    assert order.tx_hash == swap.signature
    assert [(e.seq, e.status) for e in events] == [(2, "routing"), (3, "building"), (4, "submitted"), (5, "confirmed")]
    assert order.amount_out == swap.amount_out >= order.min_amount_out
    assert order.min_amount_out == (order.expected_amount_out * Decimal("0.995")).quantize(
        Decimal("0.000001"), "ROUND_DOWN"
    )
    assert order.executed_price == swap.price
    assert order.attempts == 1
    # Routing to submitted stored in one statement and published in one send, confirmed in another.
    assert [c.__qualname__ for c in callbacks if "publish" in c.__qualname__] == ["publish_order_events"] * 2


def test_a_fresh_orders_first_attempt_is_counted_in_the_statement_that_reads_it(instant_venues):
    order = OrderFactory(last_seq=1)

    with CaptureQueriesContext(connection) as queries:
        order_execute(order_id=order.id)

    # Counting the attempt, routing to submitted in one statement, then confirmed: no separate read of the order.
    assert len(queries) == 3
    assert queries[0]["sql"].startswith('UPDATE "orders_order" SET attempts = 1')
    assert [q["sql"].count("INSERT INTO") for q in queries[1:]] == [1, 1]
    assert Order.objects.get(pk=order.id).attempts == 1


def test_a_swap_that_cannot_be_built_leaves_its_attempts_quotes_and_sends_nothing(instant_venues, monkeypatch):
    def refuse(route, **_):
        raise QuoteExpired(route.venue, route.quote_id)

    monkeypatch.setattr(instant_venues, "build_swap", refuse)
    order = OrderFactory(last_seq=1)

    retry_in = order_execute(order_id=order.id)

    order.refresh_from_db()
    [routing] = order.events.all()
    assert retry_in == retry_countdown(1)
    assert (routing.seq, routing.status, routing.data["attempt"]) == (2, "routing", 1)
    assert routing.data["quotes"] and order.route == routing.data["route"]
    assert (order.status, order.attempts, order.tx_hash) == (Status.ROUTING, 1, "")
    assert "expired" in order.last_error
    assert swaps_for(instant_venues.ledger, str(order.id)) == []


def test_the_first_attempt_path_returns_the_whole_order_as_counted():
    order = OrderFactory(last_seq=1, amount=Decimal("12.5"), slippage_bps=75, route={"kind": "direct", "legs": []})

    counted = order_begin_first_attempt(order_id=order.id)

    assert (counted.pk, counted.attempts, counted.status) == (order.pk, 1, Status.PENDING)
    assert (counted.amount, counted.slippage_bps, counted.token_in) == (Decimal("12.5"), 75, order.token_in)
    assert counted.next_check_at is not None and counted.updated_at > order.updated_at
    assert (counted.route, counted.failures) == ({"kind": "direct", "legs": []}, [])


@pytest.mark.parametrize(
    "fields",
    [{"attempts": 1}, {"status": Status.ROUTING}, {"status": Status.CANCELLED}, {"status": Status.WAITING}],
    ids=["tried before", "routing", "cancelled", "waiting"],
)
def test_the_first_attempt_path_leaves_any_other_order_to_the_general_one(fields):
    order = OrderFactory(last_seq=1, **fields)

    assert order_begin_first_attempt(order_id=order.id) is None
    assert Order.objects.get(pk=order.id).attempts == order.attempts


def test_an_order_tried_before_takes_its_next_attempt_by_the_general_path(instant_venues):
    order = OrderFactory(last_seq=1, attempts=1, last_error="venue down")

    order_execute(order_id=order.id)

    order.refresh_from_db()
    routing = order.events.get(status=Status.ROUTING)
    assert (order.status, order.attempts) == (Status.CONFIRMED, 2)
    assert (routing.data["attempt"], routing.data["last_error"]) == (2, "venue down")


def test_execute_leaves_a_finished_order_alone(instant_venues, django_capture_on_commit_callbacks):
    order = OrderFactory(status=Status.CONFIRMED, last_seq=5)

    with django_capture_on_commit_callbacks() as callbacks:
        assert order_execute(order_id=order.id) is None

    assert callbacks == []
    assert Order.objects.get(pk=order.id).last_seq == 5


def test_fail_records_the_reason_and_every_attempt():
    order = OrderFactory(status=Status.PENDING, last_seq=1)
    for attempt in (1, 2, 3):
        order_record_failure(order_id=order.id, attempt=attempt, error=f"timeout {attempt}", retry_in=0.5)

    event = order_fail(order_id=order.id, error="timeout 3", attempts=3)

    order.refresh_from_db()
    assert order.status == Status.FAILED
    assert (order.attempts, order.last_error, order.next_check_at) == (3, "timeout 3", None)
    assert [f["attempt"] for f in order.failures] == [1, 2, 3]
    assert event.data["attempts"] == 3
    assert event_message(event)["data"]["failures"][0]["error"] == "timeout 1"


def test_fail_leaves_a_confirmed_order_confirmed():
    order = OrderFactory(status=Status.CONFIRMED)

    assert order_fail(order_id=order.id, error="late", attempts=3) is None
    assert Order.objects.get(pk=order.id).status == Status.CONFIRMED


def test_event_message_is_camel_case_with_an_iso_timestamp():
    order = order_create(account=AccountFactory(), token_in="SOL", token_out="USDC", amount=Decimal("1.5"))
    message = event_message(order.events.get())

    assert message == {
        "orderId": str(order.id),
        "seq": 1,
        "status": "pending",
        "timestamp": message["timestamp"],
        "data": {"type": "market"},
    }
    assert message["timestamp"].endswith("Z")


def test_placing_an_order_is_one_lock_and_one_statement_storing_the_order_and_its_event():
    account = AccountFactory()

    with CaptureQueriesContext(connection) as queries:
        order = order_create(account=account, token_in="SOL", token_out="USDC", amount=Decimal("1.5"))

    stored = Order.objects.get()
    event = stored.events.get()
    statements = [
        query["sql"] for query in queries.captured_queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) == 2
    assert "FOR UPDATE" in statements[0]
    assert (stored.id, stored.account_id, stored.status, stored.last_seq) == (order.id, account.id, "pending", 1)
    assert (stored.amount, stored.slippage_bps, stored.failures, stored.route) == (Decimal("1.5"), 50, [], None)
    assert stored.created_at == order.created_at == event.created_at <= stored.updated_at
    assert stored.next_check_at > stored.created_at
    assert (event.seq, event.status, event.data) == (1, "pending", {"type": "market"})
    # The caller's copies are those of stored rows: updating them updates the rows.
    assert not order._state.adding
    order.last_error = "noted"
    order.save(update_fields=["last_error"])
    assert Order.objects.get().last_error == "noted"


def _orm_insert(obj: Order | OrderEvent) -> str:
    meta = type(obj)._meta
    query = sql.InsertQuery(type(obj))
    query.insert_values([field for field in meta.local_concrete_fields if field is not meta.auto_field], [obj])
    [(statement, params)] = query.get_compiler(connection=connection).as_sql()
    return connection.ops.compose_sql(statement, params)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": OrderType.MARKET, "route": {"legs": [{"venue": "raydium", "pool": "SOL/USDC"}]}},
        {"type": OrderType.LIMIT, "limit_price": Decimal("101.25"), "expires_at": timezone.now()},
        {"type": OrderType.SNIPER, "token_out": "NEWT", "max_price": Decimal("0.5"), "expires_at": timezone.now()},
    ],
    ids=["market", "limit", "sniper"],
)
def test_a_new_orders_insert_is_the_one_the_orm_compiles_for_it(fields):
    order = Order(account=AccountFactory(), token_in="SOL", token_out="USDC", amount=Decimal("2.5"), last_seq=1)
    for name, value in fields.items():
        setattr(order, name, value)
    event = OrderEvent(order=order, seq=1, status=Status.PENDING, data={"type": order.type, "note": ["é", 1.5]})
    # Both stamp created_at and updated_at with the time of the call.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now()):
        for obj in (order, event):
            statement, params = _insert_sql(obj)
            assert connection.ops.compose_sql(statement, params) == _orm_insert(obj)


def _orders_rows_read() -> int:
    """Rows of orders_order this transaction has read so far, by sequential and by index scans."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
            "WHERE relname = %s",
            [Order._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plan", ["force_generic_plan", "force_custom_plan"])
def test_placing_an_order_reads_the_accounts_open_orders_not_its_history(plan):
    account = AccountFactory()
    history = Order.objects.bulk_create(
        [OrderFactory.build(account=account, status=Status.PENDING, last_seq=5) for _ in range(500)]
    )
    with connection.cursor() as cursor:
        # Statistics from a burst, when most orders were open; they have all finished since.
        cursor.execute("ANALYZE orders_order")
        Order.objects.filter(id__in=[order.id for order in history]).update(status=Status.CONFIRMED)
        cursor.execute("VACUUM orders_order")
    open_orders = [OrderFactory(account=account, status=status) for status in (Status.WAITING, Status.SUBMITTED)]
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The statement is prepared: planned without its parameters' values, or with such statistics,
            # a plan that reads every order of the account would read them for every order it places.
            cursor.execute(f"SET LOCAL plan_cache_mode = {plan}")
        before = _orders_rows_read()
        order_create(account=account, token_in="SOL", token_out="USDC", amount=Decimal("1"))
        assert _orders_rows_read() - before <= 2 * len(open_orders)


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_of_one_account_never_pass_its_cap_together(settings):
    settings.ORDER_MAX_OPEN_PER_ACCOUNT = 3
    account = AccountFactory()
    OrderFactory(account=account, status=Status.WAITING)
    OrderFactory(account=account, status=Status.CONFIRMED)
    start = threading.Barrier(8)

    def place(_) -> str:
        start.wait()
        try:
            order_create(
                account=account,
                type=OrderType.LIMIT,
                token_in="SOL",
                token_out="USDC",
                amount=Decimal("1"),
                limit_price=Decimal("1000"),
                expires_at=timezone.now() + timedelta(minutes=5),
            )
            return "placed"
        except TooManyOpenOrders:
            return "refused"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(place, range(8)))

    assert sorted(outcomes) == ["placed"] * 2 + ["refused"] * 6
    assert Order.objects.filter(account=account).exclude(status=Status.CONFIRMED).count() == 3


def test_retry_countdown_doubles_from_half_a_second():
    assert [retry_countdown(attempt) for attempt in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.fixture
def market_moving_against(venues):
    return venues(DEX_LATENCY_SCALE=0, DEX_SEED=11, DEX_EXECUTION_DRIFT=-0.05)


def test_a_swap_beyond_the_slippage_limit_fails_with_its_reason_and_swaps_nothing(market_moving_against):
    order = OrderFactory(last_seq=1, slippage_bps=100)

    order_execute(order_id=order.id)

    order.refresh_from_db()
    reason = order.failure_reason
    failed = order.events.get(status=Status.FAILED)
    assert order.status == Status.FAILED
    assert reason["code"] == "SLIPPAGE_EXCEEDED"
    assert Decimal(reason["actual"]) < Decimal(reason["minimum"]) < Decimal(reason["expected"])
    assert Decimal(reason["minimum"]) == order.min_amount_out
    assert event_message(failed)["data"]["reason"] == reason
    assert swaps_for(market_moving_against.ledger, str(order.id)) == []
    assert order.attempts == 1


@pytest.fixture
def quotes_that_expire_at_once(venues):
    return venues(DEX_LATENCY_SCALE=0, DEX_SEED=11, DEX_QUOTE_TTL=-1)


def test_an_expired_quote_is_never_executed(quotes_that_expire_at_once):
    order = OrderFactory(last_seq=1)

    retries = [order_execute(order_id=order.id) for _ in range(3)]

    order.refresh_from_db()
    assert retries[:2] == [0.5, 1.0]
    assert order.status == Status.FAILED
    assert "quotes kept expiring" in order.last_error
    assert not order.events.filter(status=Status.BUILDING).exists()
    assert swaps_for(quotes_that_expire_at_once.ledger, str(order.id)) == []


def test_an_error_message_is_stored_without_nul_bytes_and_bounded():
    order = OrderFactory(status=Status.PENDING, last_seq=1)

    order_fail(order_id=order.id, error="bad\x00 answer" + "x" * 5000, attempts=1)

    order.refresh_from_db()
    assert order.last_error.startswith("bad answer")
    assert len(order.last_error) == 2000
