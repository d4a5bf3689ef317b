"""Nothing lost, nothing twice: concurrent deliveries, a broker that is down, re-driven orders."""

import threading

import pytest
from django.db import connection

from dex.ledger import swaps_for
from orders.exceptions import AttemptTaken, InvalidTransition
from orders.execution import order_execute
from orders.models import Order
from orders.recovery import order_recover_stalled
from orders.states import TERMINAL, Status
from tests.conftest import Process
from tests.factories import OrderEventFactory, OrderFactory


@pytest.fixture
def flaky_venues(venues):
    return venues(DEX_LATENCY_SCALE=0.02, DEX_LOST_RESPONSE_RATE=0.5, DEX_FAILURE_RATE=0.2)


@pytest.mark.django_db(transaction=True)
def test_ten_threads_delivering_the_same_order_five_times_swap_it_once(flaky_venues):
    orders = [OrderFactory(last_seq=1) for _ in range(5)]
    for order in orders:
        OrderEventFactory(order=order, seq=1, status=Status.PENDING)
    start = threading.Barrier(10)

    def deliver(order: Order) -> None:
        start.wait()
        try:
            for _ in range(5):
                try:
                    retry_in = order_execute(order_id=order.id)
                except (AttemptTaken, InvalidTransition):  # another delivery got ahead: dropped, as the task does
                    continue
                if retry_in is not None:
                    threading.Event().wait(retry_in)  # the countdown Celery would hold the retry for
        finally:
            connection.close()

    for order in orders:
        threads = [threading.Thread(target=deliver, args=(order,)) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        start.reset()

    for order in orders:
        order.refresh_from_db()
        swaps = swaps_for(flaky_venues.ledger, str(order.id))
        seqs = list(order.events.values_list("seq", flat=True))
        assert order.status in TERMINAL
        assert len(swaps) == (1 if order.status == Status.CONFIRMED else 0)
        assert seqs == list(range(1, order.last_seq + 1))
        assert order.attempts <= 3


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_an_order_placed_while_the_broker_is_down_is_stored_and_recovered(live):
    # A web process whose broker is unreachable, and whose orders are due for recovery at once.
    env = {**live.env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "ORDER_STALL_SECONDS": "0"}
    port = live.free_port()
    command = live.web_command(port)
    cut_off = Process("daphne-without-broker", command, env, ready_line="Listening on TCP address")
    try:
        response = live.http.post(
            f"http://127.0.0.1:{port}/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
        )
    finally:
        cut_off.stop()
    assert response.status_code == 201, "".join(cut_off.lines[-30:])
    order_id = response.json()["orderId"]

    assert response.status_code == 201
    assert Order.objects.get(pk=order_id).status == Status.PENDING
    assert order_id in {str(i) for i in order_recover_stalled()}
    assert live.wait_terminal(order_id)["status"] == "confirmed"


@pytest.mark.django_db
def test_recovery_skips_finished_and_not_yet_due_orders():
    from django.utils import timezone

    past = timezone.now() - timezone.timedelta(seconds=1)
    due = OrderFactory(status=Status.SUBMITTED, next_check_at=past)
    OrderFactory(status=Status.CONFIRMED, next_check_at=past)
    OrderFactory(status=Status.ROUTING, next_check_at=timezone.now() + timezone.timedelta(minutes=1))

    assert order_recover_stalled() == [due.id]
    due.refresh_from_db()
    assert due.next_check_at > timezone.now()
