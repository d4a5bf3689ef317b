"""The admin: staff can inspect orders and their events, and nobody can change history there."""

from decimal import Decimal

import pytest

from orders.quoting import route_data
from orders.states import Status
from tests.factories import OrderEventFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    order = OrderFactory(status=Status.FAILED, venue="meteora", tx_hash="5xSig", attempts=3, last_error="venue down")
    OrderEventFactory(order=order, seq=1, status=Status.PENDING)
    OrderEventFactory(order=order, seq=2, status=Status.FAILED, data={"error": "venue down", "attempts": 3})
    return order


def test_order_list_shows_status_pair_venue_hash_and_attempts(admin_client, order):
    response = admin_client.get("/admin/orders/order/")

    page = response.content.decode()
    assert response.status_code == 200
    for text in ("failed", "SOL → USDC", "meteora", "5xSig", str(order.id)):
        assert text in page


@pytest.mark.parametrize("query", ["status__exact=failed", "venue=meteora", "type__exact=market", "q=5xSig"])
def test_order_list_filters_and_searches(admin_client, order, query):
    response = admin_client.get(f"/admin/orders/order/?{query}")

    assert response.status_code == 200
    assert str(order.id) in response.content.decode()


def test_searching_by_order_id_finds_it_and_garbage_finds_nothing(admin_client, order):
    found = admin_client.get(f"/admin/orders/order/?q={order.id}")
    garbage = admin_client.get("/admin/orders/order/?q=not-an-id")

    assert str(order.id) in found.content.decode()
    assert garbage.status_code == 200
    assert str(order.id) not in garbage.content.decode()


def test_order_page_shows_its_events_and_failure_read_only(admin_client, order):
    response = admin_client.get(f"/admin/orders/order/{order.id}/change/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "venue down" in page
    assert "Events" in page or "Order events" in page
    assert 'name="status"' not in page
    assert "Save" not in page


def test_history_cannot_be_added_or_deleted(admin_client, order):
    assert admin_client.get("/admin/orders/order/add/").status_code == 403
    assert admin_client.post(f"/admin/orders/order/{order.id}/delete/", {"post": "yes"}).status_code == 403


def test_non_staff_are_sent_to_the_login(client, order):
    response = client.get("/admin/orders/order/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_order_page_shows_the_route_its_legs_fees_price_impact_and_gain(admin_client, venues):
    router = venues(DEX_LATENCY_SCALE=0, DEX_SEED=1)
    route = route_data(router.route("SOL", "USDC", Decimal(3000), key="admin").best)
    order = OrderFactory(amount=Decimal(3000), venue=route["venue"], route=route)

    page = admin_client.get(f"/admin/orders/order/{order.id}/change/").content.decode()

    assert f"split via raydium+meteora: 3000 SOL for {route['amount_out']} USDC" in page
    assert f"gain over the best single venue {route['gain_bps']} bp" in page
    for leg in route["legs"]:
        row = f"<td>{leg['venue']}</td><td>{leg['amount_in']} SOL</td><td>{leg['amount_out']} USDC</td>"
        assert row in page
        assert f"<td>{leg['fee']} ({leg['fee_rate']})</td><td>{leg['price_impact']}</td>" in page
