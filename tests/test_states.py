"""The one state machine: every pair of statuses against the table, through order_transition."""

import itertools

import pytest

from orders.exceptions import InvalidTransition
from orders.services import Step, order_transition, order_transitions
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


def test_a_run_of_moves_makes_each_one_with_its_event_in_order(django_capture_on_commit_callbacks):
    order = OrderFactory(status=Status.PENDING, last_seq=1)
    steps = [
        Step(Status.ROUTING, {"n": 1}, {"venue": ""}),
        Step(Status.BUILDING, {"n": 2}, {"venue": "raydium"}),
        Step(Status.SUBMITTED, {"n": 3}, {"tx_hash": "sig"}),
    ]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        events = order_transitions(order_id=order.id, expected=Status.PENDING, expected_seq=1, steps=steps)

    order.refresh_from_db()
    assert (order.status, order.last_seq, order.venue, order.tx_hash) == (Status.SUBMITTED, 4, "raydium", "sig")
    assert [(e.seq, e.status, e.data) for e in events] == [
        (2, "routing", {"n": 1}),
        (3, "building", {"n": 2}),
        (4, "submitted", {"n": 3}),
    ]
    assert [(e.seq, e.status, e.data) for e in order.events.order_by("seq")] == [
        (e.seq, e.status, e.data) for e in events
    ]
    # The three events go out together, in one publish, then their metrics in one round trip.
    assert [c.__qualname__ for c in callbacks] == ["publish_order_events", "record_transitions"]


@pytest.mark.parametrize(
    ("status", "last_seq", "to", "message"),
    [
        (Status.CANCELLED, 1, [Status.ROUTING, Status.BUILDING], "is cancelled, not pending"),  # moved on meanwhile
        (Status.PENDING, 2, [Status.ROUTING, Status.BUILDING], "is pending, not pending"),  # moved and came back
        (Status.PENDING, 1, [Status.ROUTING, Status.SUBMITTED], "not routing; cannot move to submitted"),  # forbidden
    ],
)
def test_a_run_of_moves_is_all_or_nothing(status, last_seq, to, message):
    order = OrderFactory(status=status, last_seq=last_seq)

    with pytest.raises(InvalidTransition) as refused:
        order_transitions(
            order_id=order.id, expected=Status.PENDING, expected_seq=1, steps=[Step(status) for status in to]
        )

    order.refresh_from_db()
    assert (order.status, order.last_seq, order.events.count()) == (status, last_seq, 0)
    assert message in str(refused.value)
