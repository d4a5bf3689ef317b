"""A stateful property test of the state machine: whatever sequence of moves is tried, only legal
ones happen, finished orders stay finished, and the history stays gapless."""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from orders.exceptions import InvalidTransition
from orders.models import Order
from orders.services import order_fail, order_transition
from orders.states import ALLOWED_MOVES, TERMINAL, Status
from tests.factories import OrderEventFactory, OrderFactory

pytestmark = pytest.mark.django_db

statuses = st.sampled_from(list(Status))


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.order = OrderFactory(last_seq=1)
        OrderEventFactory(order=self.order, seq=1, status=Status.PENDING)
        self.expected = Status.PENDING

    @rule(believed=statuses, to=statuses, signature=st.sampled_from(["sig-a", "sig-b", "sig-c"]))
    def move(self, believed: Status, to: Status, signature: str) -> None:
        legal = believed == self.expected and to in ALLOWED_MOVES[self.expected]
        # A submission carries the signature of its transaction; a confirmation, the one it confirms.
        if to == Status.SUBMITTED:
            data, changes = {"tx_hash": signature}, {"tx_hash": signature}
        elif to == Status.CONFIRMED:
            data, changes = {"tx_hash": self.order_tx_hash()}, {}
        else:
            data, changes = {}, {}
        try:
            order_transition(order_id=self.order.id, expected=believed, to=to, data=data, changes=changes)
        except InvalidTransition:
            assert not legal
        else:
            assert legal
            self.expected = to

    @rule(error=st.text(max_size=20))
    def fail(self, error: str) -> None:
        event = order_fail(order_id=self.order.id, error=error, attempts=1)
        assert (event is None) == (self.expected in TERMINAL)
        if event:
            self.expected = Status.FAILED

    @invariant()
    def history_is_gapless_and_ends_in_the_status(self) -> None:
        order = Order.objects.get(pk=self.order.id)
        events = list(order.events.order_by("seq").values_list("seq", "status"))
        assert [seq for seq, _ in events] == list(range(1, order.last_seq + 1))
        assert events[-1][1] == order.status == self.expected

    def order_tx_hash(self) -> str:
        return Order.objects.get(pk=self.order.id).tx_hash

    @invariant()
    def a_confirmed_order_confirms_the_one_transaction_it_last_submitted(self) -> None:
        order = Order.objects.get(pk=self.order.id)
        if order.status == Status.CONFIRMED:
            submitted = order.events.filter(status=Status.SUBMITTED).order_by("seq").last()
            confirmed = order.events.get(status=Status.CONFIRMED)
            assert confirmed.data["tx_hash"] == submitted.data["tx_hash"] == order.tx_hash

    @invariant()
    def a_finished_order_was_finished_once(self) -> None:
        order = Order.objects.get(pk=self.order.id)
        confirmations = order.events.filter(status=Status.CONFIRMED).count()
        assert confirmations == (1 if order.status == Status.CONFIRMED else 0)
        assert order.events.filter(status__in=TERMINAL).count() <= 1


OrderLifecycle.TestCase.settings = settings(
    max_examples=40, stateful_step_count=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.django_db
def test_order_lifecycle_state_machine():
    OrderLifecycle.TestCase().runTest()
