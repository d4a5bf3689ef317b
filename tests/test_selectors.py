"""The prepared reads behind the detail endpoint, the stream and authentication: what they answer."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.authentication import active_account, token_owner
from orders.models import Order
from orders.selectors import StreamStart, order_detail_get, order_events_after, order_stream_start
from orders.states import Status
from tests.factories import AccountFactory, OrderEventFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    order = OrderFactory(status=Status.ROUTING, last_seq=3)
    for seq, status in ((2, Status.PENDING), (3, Status.ROUTING), (1, Status.PENDING)):
        OrderEventFactory(order=order, seq=seq, status=status, data={"n": seq})
    OrderEventFactory(seq=1)  # another order's
    return order


def test_an_orders_detail_is_two_statements_and_its_events_come_in_seq_order(order):
    with CaptureQueriesContext(connection) as queries:
        detail = order_detail_get(order_id=str(order.id), account=order.account)
        events = [(event.seq, event.status, event.data) for event in detail.events.all()]

    assert len(queries) == 2
    assert (detail.pk, detail.status, detail.account_id) == (order.pk, Status.ROUTING, order.account_id)
    assert events == [(1, "pending", {"n": 1}), (2, "pending", {"n": 2}), (3, "routing", {"n": 3})]


def test_another_accounts_order_is_neither_shown_nor_its_status_told(order):
    other = AccountFactory()

    with pytest.raises(Order.DoesNotExist):
        order_detail_get(order_id=order.id, account=other)
    with pytest.raises(Order.DoesNotExist):
        order_detail_get(order_id=uuid.uuid4(), account=order.account)
    assert order_stream_start(key=TokenFactory(user=other).key, order_id=order.id, after=0) == StreamStart(other)


def test_events_after_a_seq_are_the_later_ones_in_order(order):
    assert [event.seq for event in order_events_after(order_id=order.id, after=1)] == [2, 3]
    assert order_events_after(order_id=order.id, after=3) == []


def test_a_token_names_its_account_active_or_not_and_nothing_else_does():
    token, inactive = TokenFactory(), TokenFactory(user__is_active=False)

    found, owner = token_owner(token.key)
    assert (found.key, found.created, owner.pk, found.user.pk) == (
        token.key,
        token.created,
        token.user.pk,
        token.user.pk,
    )
    assert token_owner(inactive.key)[1].pk == inactive.user.pk
    assert active_account(token.key).pk == token.user.pk
    assert [active_account(key) for key in (inactive.key, None, "", "0" * 40, "a\x00b", "x" * 41)] == [None] * 6


def test_a_subscriber_is_told_its_account_and_its_orders_status_and_events_in_one_statement(order):
    token = TokenFactory(user=order.account)

    with CaptureQueriesContext(connection) as queries:
        start = order_stream_start(key=token.key, order_id=order.id, after=1)

    assert len(queries) == 1
    assert (start.account.pk, start.status) == (order.account.pk, "routing")
    assert [(event.seq, event.order_id, event.data) for event in start.events] == [
        (2, order.id, {"n": 2}),
        (3, order.id, {"n": 3}),
    ]


def test_a_subscriber_past_the_last_event_or_of_an_unknown_order_is_told_no_events(order):
    key = TokenFactory(user=order.account).key

    assert order_stream_start(key=key, order_id=order.id, after=3) == StreamStart(order.account, "routing")
    assert order_stream_start(key=key, order_id=uuid.uuid4(), after=0) == StreamStart(order.account)


def test_a_subscriber_without_an_active_accounts_token_is_told_nothing(order):
    key = TokenFactory(user=order.account).key
    order.account.is_active = False
    order.account.save(update_fields=["is_active"])

    for each in (key, None, "", "0" * 40, "a\x00b", "x" * 41):
        assert order_stream_start(key=each, order_id=order.id, after=0) == StreamStart(None)
