"""The REST API in-process: validation, dispatch, history, detail and the schema."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order, OrderEvent
from orders.states import Status
from tests.factories import OrderEventFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db

EXECUTE = "/api/orders/execute"


@pytest.fixture
def token():
    return TokenFactory()


@pytest.fixture
def account(token):
    return token.user


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_placing_an_order_stores_it_pending_and_queues_it_after_commit(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(EXECUTE, {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "10"}, format="json")

    body = response.json()
    order = Order.objects.get(pk=body["orderId"])
    assert response.status_code == 201
    assert body["status"] == "pending"
    assert body["type"] == "market"
    assert body["amount"] == "10"
    assert body["streamUrl"] == f"ws://testserver/api/orders/execute?orderId={order.id}"
    assert response["Location"] == f"/api/orders/{order.id}/"
    assert list(order.events.values_list("seq", "status")) == [(1, "pending")]
    # Nothing is sent before commit: the dispatch and the publish both wait for it. The dispatch goes
    # first, so the worker starts sooner; a subscriber that sees `routing` first fills the gap.
    assert [callback.__qualname__ for callback in callbacks] == ["Task.delay", "publish_order_event"]


@pytest.mark.parametrize(
    ("amount", "stored"),
    [(10, "10"), ("0.000000001", "0.000000001"), (12.5, "12.5"), ("1000000000", "1000000000"), (1e2, "100")],
)
def test_amount_is_accepted_as_a_string_or_a_json_number_and_kept_exact(api, amount, stored):
    response = api.post(EXECUTE, {"tokenIn": "SOL", "tokenOut": "USDC", "amount": amount}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == stored


def test_a_json_number_is_never_rounded_through_a_float(api):
    body = b'{"tokenIn": "USDC", "tokenOut": "SOL", "amount": 0.100001}'
    response = api.post(EXECUTE, body, content_type="application/json")

    assert response.status_code == 201
    assert str(Order.objects.get().amount.normalize()) == "0.100001"


VALID = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "10"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tokenIn": "DOGE"}, "tokenIn"),
        ({"tokenOut": "DOGE"}, "tokenOut"),
        ({"tokenOut": "SOL"}, "tokenOut"),
        ({"tokenIn": 5}, "tokenIn"),
        ({"tokenIn": None}, "tokenIn"),
        ({"amount": "0"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": "1000000001"}, "amount"),
        ({"amount": "1.0000000001"}, "amount"),
        ({"tokenIn": "USDC", "tokenOut": "SOL", "amount": "1.1234567"}, "amount"),
        ({"amount": "ten"}, "amount"),
        ({"amount": ""}, "amount"),
        ({"amount": "1e5"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "Infinity"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"amount": {"value": 1}}, "amount"),
        ({"amount": None}, "amount"),
        ({"type": "twap"}, "type"),
        ({"type": "sniper"}, "tokenOut"),
        ({"type": "sniper", "tokenOut": "NEWCOIN"}, "tokenOut"),
        ({"tokenOut": "NEWCOIN"}, "tokenOut"),
        ({"tokenOut": "usdc"}, "tokenOut"),
        ({"type": "limit"}, "limitPrice"),
        ({"type": "limit", "limitPrice": "0"}, "limitPrice"),
        ({"type": "limit", "limitPrice": "90", "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"type": "limit", "limitPrice": "90", "expiresAt": "2999-01-01T00:00:00Z"}, "expiresAt"),
        ({"limitPrice": "90"}, "limitPrice"),
        ({"expiresAt": "2999-01-01T00:00:00Z"}, "expiresAt"),
        ({"slippageBps": 0}, "slippageBps"),
        ({"slippageBps": 5001}, "slippageBps"),
        ({"slippageBps": "a lot"}, "slippageBps"),
        ({"slippage": 1}, "slippage"),
    ],
)
def test_invalid_order_answers_400_naming_the_field_and_changes_nothing(
    api, django_capture_on_commit_callbacks, change, field
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(EXECUTE, {**VALID, **change}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0]
    assert not Order.objects.exists()
    assert callbacks == []


@pytest.mark.parametrize("missing", ["tokenIn", "tokenOut", "amount"])
def test_missing_field_is_named(api, missing):
    body = {key: value for key, value in VALID.items() if key != missing}
    response = api.post(EXECUTE, body, format="json")

    assert response.status_code == 400
    assert response.json() == {missing: ["This field is required."]}


@pytest.mark.parametrize(
    "body",
    [
        b'{"tokenIn": "SOL",',
        b"not json",
        b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": NaN}',
        b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": Infinity}',
        b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": 1' + b"0" * 5000 + b"}",
        b"\xff\xfe",
    ],
)
def test_malformed_json_answers_400(api, body):
    response = api.post(EXECUTE, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not Order.objects.exists()


@pytest.mark.parametrize("amount", ["1e999999999", "-1e999999999", "1e-999999999"])
def test_huge_exponents_are_refused(api, amount):
    body = b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": ' + amount.encode() + b"}"
    response = api.post(EXECUTE, body, content_type="application/json")

    assert response.status_code == 400
    assert "amount" in response.json()


@pytest.mark.parametrize("body", [b"[]", b'"SOL"', b"null", b"42"])
def test_a_body_that_is_not_an_object_answers_400(api, body):
    response = api.post(EXECUTE, body, content_type="application/json")

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_list_is_newest_first_with_cursor_pages(api, account):
    now = timezone.now()
    for minutes in range(5):
        order = OrderFactory(account=account)
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=minutes))

    first = api.get("/api/orders/?limit=2").json()
    second = api.get(first["next"]).json()

    created = [o["createdAt"] for o in first["results"] + second["results"]]
    assert len(first["results"]) == 2
    assert created == sorted(created, reverse=True)
    assert len(set(created)) == 4


def test_list_filters_by_status_tokens_type_and_created_range(api, account):
    confirmed = OrderFactory(account=account, status=Status.CONFIRMED, token_in="USDC", token_out="JUP")
    failed = OrderFactory(account=account, status=Status.FAILED)
    old = OrderFactory(account=account, status=Status.CONFIRMED)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    def ids(query: str) -> set[str]:
        response = api.get("/api/orders/", {"createdAfter": since} | dict(q.split("=") for q in query.split("&")))
        return {o["orderId"] for o in response.json()["results"]}

    assert ids("status=confirmed") == {str(confirmed.id)}
    assert ids("tokenIn=USDC&tokenOut=JUP") == {str(confirmed.id)}
    assert ids("type=market") == {str(confirmed.id), str(failed.id)}
    assert ids("status=failed&tokenIn=SOL") == {str(failed.id)}


def test_list_rejects_an_unknown_status_filter(api):
    response = api.get("/api/orders/", {"status": "exploded"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_detail_shows_the_order_with_its_events_in_seq_order(api, account):
    order = OrderFactory(account=account, status=Status.ROUTING, last_seq=2)
    OrderEventFactory(order=order, seq=2, status=Status.ROUTING, data={"chosen": "meteora", "quotes": []})
    OrderEventFactory(order=order, seq=1, status=Status.PENDING)

    body = api.get(f"/api/orders/{order.id}/").json()

    assert body["orderId"] == str(order.id)
    assert body["status"] == "routing"
    assert [(e["seq"], e["status"]) for e in body["events"]] == [(1, "pending"), (2, "routing")]
    assert body["events"][1]["data"] == {"chosen": "meteora", "quotes": []}


@pytest.mark.parametrize("order_id", ["6f1c1b7e-0000-4000-8000-000000000000", "not-a-uuid"])
def test_detail_of_an_unknown_or_malformed_id_is_404(api, order_id):
    response = api.get(f"/api/orders/{order_id}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Order not found."}


def test_schema_and_docs_are_served_without_credentials():
    anonymous = APIClient()
    schema = anonymous.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = anonymous.get("/api/docs/")

    assert schema.status_code == 200
    assert "/api/orders/execute" in schema.json()["paths"]
    assert schema.json()["components"]["securitySchemes"]["tokenAuth"]["type"] == "apiKey"
    assert docs.status_code == 200
    assert OrderEvent.objects.count() == 0
