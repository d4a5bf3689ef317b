"""The wire form of events, and what one status move costs the database."""

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import OrderEvent
from orders.publisher import event_message
from orders.serializers import OrderEventSerializer
from orders.services import order_begin_first_attempt, order_create, order_transition
from orders.states import Status
from tests.factories import AccountFactory, OrderEventFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 11, 24, 23, 51, 19, 329421, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_an_event_message_is_byte_for_byte_the_serializers(created_at):
    event = OrderEventFactory(
        seq=2,
        status=Status.ROUTING,
        created_at=created_at,
        data={"attempt": 1, "last_error": "x", "quotes": [{"venue": "raydium", "amount_out": "1003.58"}]},
    )
    stored = OrderEvent.objects.get(pk=event.pk)

    for instance in (event, stored):
        assert json.dumps(event_message(instance)) == json.dumps(OrderEventSerializer(instance).data)


def test_a_status_move_is_one_statement():
    order = OrderFactory(last_seq=1)
    OrderEventFactory(order=order, seq=1, status=Status.PENDING)

    with CaptureQueriesContext(connection) as queries:
        event = order_transition(order_id=order.id, expected=Status.PENDING, to=Status.ROUTING, data={"attempt": 1})

    assert len(queries) == 1
    order.refresh_from_db()
    assert (order.status, order.last_seq) == (Status.ROUTING, 2)
    assert OrderEvent.objects.get(order=order, seq=2).pk == event.pk
    assert event_message(event) == OrderEventSerializer(OrderEvent.objects.get(pk=event.pk)).data


def _plans(start: str) -> list[int]:
    """Runs of each statement this connection prepared that starts so."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s", [f"{start}%"]
        )
        return [runs for (runs,) in cursor.fetchall()]


def test_status_moves_are_prepared_once_per_connection_and_then_only_executed():
    orders = [OrderFactory(last_seq=1) for _ in range(3)]
    for order in orders:
        OrderEventFactory(order=order, seq=1, status=Status.PENDING)
    before = _plans("WITH moved")

    for order in orders:
        order_transition(order_id=order.id, expected=Status.PENDING, to=Status.ROUTING, data={"attempt": 1})

    after = _plans("WITH moved")
    assert len(after) == 1 and sum(after) - sum(before) == 3


def test_placing_orders_is_prepared_once_per_connection():
    account = AccountFactory()
    before = _plans("WITH new_order")

    for _ in range(2):
        order_create(account=account, token_in="SOL", token_out="USDC", amount=Decimal("1"))

    after = _plans("WITH new_order")
    assert len(after) == 1 and sum(after) - sum(before) == 2


def test_counting_a_first_attempt_is_prepared_once_per_connection():
    orders = [OrderFactory(last_seq=1) for _ in range(2)]
    before = _plans('UPDATE "orders_order" SET attempts = 1')

    counted = [order_begin_first_attempt(order_id=order.id) for order in orders]

    after = _plans('UPDATE "orders_order" SET attempts = 1')
    assert len(after) == 1 and sum(after) - sum(before) == 2
    assert [order.pk for order in counted] == [order.pk for order in orders]
