"""Cancelling an order: before submission only, idempotent, the owner's alone, and final."""

import pytest
from rest_framework.test import APIClient

from orders.models import Order
from orders.states import Status
from tests.factories import OrderEventFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return TokenFactory()


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def order_in(status: Status, account) -> Order:
    order = OrderFactory(account=account, status=status, last_seq=1)
    OrderEventFactory(order=order, seq=1, status=status)
    return order


@pytest.mark.parametrize("status", [Status.PENDING, Status.WAITING, Status.ROUTING, Status.BUILDING])
def test_an_order_not_yet_submitted_is_cancelled_and_the_event_recorded(api, token, status):
    order = order_in(status, token.user)

    response = api.post(f"/api/orders/{order.id}/cancel")

    order.refresh_from_db()
    event = order.events.get(seq=2)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert order.status == Status.CANCELLED
    assert (event.status, event.data) == (Status.CANCELLED, {"by": "account", "from": status.value})
    assert order.next_check_at is None


def test_cancelling_twice_answers_the_same(api, token):
    order = order_in(Status.PENDING, token.user)

    first = api.post(f"/api/orders/{order.id}/cancel")
    second = api.post(f"/api/orders/{order.id}/cancel")

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() | {"updatedAt": None} == second.json() | {"updatedAt": None}
    assert order.events.count() == 2


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.CONFIRMED, Status.FAILED])
def test_an_order_submitted_or_finished_cannot_be_cancelled(api, token, status):
    order = order_in(status, token.user)

    response = api.post(f"/api/orders/{order.id}/cancel")

    assert response.status_code == 409
    assert response.json()["status"] == status.value
    assert "only an order not yet submitted" in response.json()["detail"]
    assert Order.objects.get(pk=order.id).status == status


def test_operators_cancel_from_the_admin_and_are_told_what_could_not_be(admin_client, token):
    pending = order_in(Status.PENDING, token.user)
    submitted = order_in(Status.SUBMITTED, token.user)

    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "cancel_orders", "_selected_action": [pending.id, submitted.id]},
        follow=True,
    )

    page = response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.CANCELLED
    assert pending.events.get(seq=2).data["by"] == "operator admin"
    assert "1 orders cancelled" in page
    assert f"{submitted.id} (submitted)" in page
