"""The one state machine: every pair of statuses against the table, through order_transition."""

import itertools

import pytest

from orders.exceptions import InvalidTransition
from orders.services import order_transition
from orders.states import ALLOWED_MOVES, TERMINAL, Status
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("pending", "routing"), ("pending", "failed"),
    ("routing", "building"), ("routing", "routing"), ("routing", "failed"),
    ("building", "submitted"), ("building", "routing"), ("building", "failed"),
    ("submitted", "confirmed"), ("submitted", "routing"), ("submitted", "failed"),
    ("pending", "cancelled"), ("routing", "cancelled"), ("building", "cancelled"),
    ("pending", "waiting"), ("waiting", "routing"), ("waiting", "cancelled"), ("waiting", "expired"),
}  # fmt: skip


def test_table_is_exactly_the_documented_moves():
    assert {(a.value, b.value) for a, moves in ALLOWED_MOVES.items() for b in moves} == ALLOWED
    assert TERMINAL == {Status.CONFIRMED, Status.FAILED, Status.CANCELLED, Status.EXPIRED}


@pytest.mark.parametrize(("current", "to"), list(itertools.product(Status, Status)))
def test_every_pair_of_statuses_moves_only_if_the_table_allows_it(current, to, django_capture_on_commit_callbacks):
    order = OrderFactory(status=current, last_seq=3)

    if (current.value, to.value) in ALLOWED:
        event = order_transition(order_id=order.id, expected=current, to=to, data={"n": 1})
        order.refresh_from_db()
        assert (order.status, order.last_seq) == (to, 4)
        assert (event.seq, event.status, event.data) == (4, to, {"n": 1})
    else:
        with pytest.raises(InvalidTransition):
            order_transition(order_id=order.id, expected=current, to=to)
        order.refresh_from_db()
        assert (order.status, order.last_seq, order.events.count()) == (current, 3, 0)


def test_a_move_from_a_status_the_order_has_left_is_refused():
    order = OrderFactory(status=Status.BUILDING)

    with pytest.raises(InvalidTransition, match="is building, not routing"):
        order_transition(order_id=order.id, expected=Status.ROUTING, to=Status.BUILDING)


def test_confirmed_order_cannot_fail():
    order = OrderFactory(status=Status.CONFIRMED)

    with pytest.raises(InvalidTransition):
        order_transition(order_id=order.id, expected=Status.CONFIRMED, to=Status.FAILED)
