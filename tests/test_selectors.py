"""The prepared reads behind the detail endpoint, the stream and authentication: what they answer."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.authentication import active_account, token_owner
from orders.models import Order
from orders.selectors import order_detail_get, order_events_after, order_status_of
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
    assert order_status_of(order_id=order.id, account=other) is None
    assert order_status_of(order_id=order.id, account=order.account) == "routing"


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
