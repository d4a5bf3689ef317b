"""Accounts and limits over REST: who may do what, throttles, caps, body size, production settings."""

import os
import secrets
import subprocess
import sys

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from orders.models import Order
from orders.states import Status
from tests.conftest import ROOT
from tests.factories import AccountFactory, OrderFactory, TokenFactory

pytestmark = pytest.mark.django_db

BODY = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
UNKNOWN = "6f1c1b7e-0000-4000-8000-000000000000"


def client_of(token=None, key: str | None = None) -> APIClient:
    client = APIClient()
    if token or key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key or token.key}")
    return client


@pytest.fixture
def owner():
    return TokenFactory()


@pytest.fixture
def other():
    return TokenFactory()


@pytest.fixture
def order(owner):
    return OrderFactory(account=owner.user)


def requests(order_id) -> list[tuple[str, str, dict | None]]:
    return [
        ("post", "/api/orders/execute", BODY),
        ("get", "/api/orders/", None),
        ("get", f"/api/orders/{order_id}/", None),
        ("post", f"/api/orders/{order_id}/cancel", None),
    ]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("key", [None, "0" * 40, "not a token", "a\x00b", "x" * 300])
def test_every_endpoint_refuses_missing_or_invalid_credentials_with_401(order, index, key):
    method, path, body = requests(order.id)[index]

    response = getattr(client_of(key=key), method)(path, body, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"].startswith(("Authentication credentials were not provided.", "Invalid token"))
    assert Order.objects.count() == 1


def test_owner_can_place_list_and_read(owner, order):
    client = client_of(owner)

    placed = client.post("/api/orders/execute", BODY, format="json")
    listed = client.get("/api/orders/")
    detail = client.get(f"/api/orders/{order.id}/")

    assert placed.status_code == 201
    assert Order.objects.get(pk=placed.json()["orderId"]).account == owner.user
    assert {o["orderId"] for o in listed.json()["results"]} == {str(order.id), placed.json()["orderId"]}
    assert detail.status_code == 200


def test_another_accounts_order_is_answered_exactly_like_an_unknown_one(other, order):
    client = client_of(other)

    theirs = client.get(f"/api/orders/{order.id}/")
    unknown = client.get(f"/api/orders/{UNKNOWN}/")
    cancel_theirs = client.post(f"/api/orders/{order.id}/cancel")
    cancel_unknown = client.post(f"/api/orders/{UNKNOWN}/cancel")

    assert (theirs.status_code, theirs.json()) == (unknown.status_code, unknown.json()) == (404, unknown.json())
    assert (cancel_theirs.status_code, cancel_theirs.json()) == (404, cancel_unknown.json())
    assert Order.objects.get(pk=order.id).status == "pending"
    assert client.get("/api/orders/").json()["results"] == []


def test_inactive_accounts_token_is_refused(owner):
    owner.user.is_active = False
    owner.user.save()

    answers = [getattr(client_of(owner), method)(path, body, format="json") for method, path, body in requests(UNKNOWN)]

    assert [(a.status_code, a.json()) for a in answers] == [(401, {"detail": "User inactive or deleted."})] * 4
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("scope", "method", "path"),
    [("orders.read", "get", "/api/orders/"), ("orders.place", "post", "/api/orders/execute")],
)
def test_throttle_answers_429_with_retry_after_past_the_rate(owner, other, monkeypatch, scope, method, path):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, scope, "3/min")
    client = client_of(owner)

    codes = [getattr(client, method)(path, BODY, format="json").status_code for _ in range(4)]
    refused = getattr(client, method)(path, BODY, format="json")

    assert codes[:3] == [200 if method == "get" else 201] * 3
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    # Another account has its own allowance.
    assert getattr(client_of(other), method)(path, BODY, format="json").status_code in (200, 201)


def test_open_orders_are_capped_per_account(owner, other, settings):
    settings.ORDER_MAX_OPEN_PER_ACCOUNT = 2
    OrderFactory(account=owner.user, status=Status.ROUTING)
    OrderFactory(account=owner.user, status=Status.CONFIRMED)
    OrderFactory(account=owner.user, status=Status.FAILED)
    client = client_of(owner)

    second = client.post("/api/orders/execute", BODY, format="json")
    third = client.post("/api/orders/execute", BODY, format="json")

    assert second.status_code == 201
    assert third.status_code == 429
    assert "2 open orders" in third.json()["detail"]
    assert Order.objects.filter(account=owner.user).count() == 4
    assert client_of(other).post("/api/orders/execute", BODY, format="json").status_code == 201


def test_oversized_body_is_refused_with_413_and_stores_nothing(owner, settings):
    settings.REQUEST_BODY_MAX_BYTES = 1024
    body = b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1", "pad": "' + b"x" * 2000 + b'"}'

    response = client_of(owner).post("/api/orders/execute", body, content_type="application/json")

    assert response.status_code == 413
    assert "larger than 1024 bytes" in response.json()["detail"]
    assert not Order.objects.exists()


def test_admin_lists_every_accounts_orders_for_staff_only(admin_client, client, order, other):
    theirs = OrderFactory(account=other.user)
    trader = AccountFactory(username="trader")
    trader.set_password("pw-of-trader")
    trader.save()

    page = admin_client.get("/admin/orders/order/").content.decode()
    client.login(username="trader", password="pw-of-trader")

    assert str(order.id) in page and str(theirs.id) in page
    assert client.get("/admin/orders/order/").status_code == 302


def production_env(**changes: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECURE_SSL_REDIRECT")}
    env |= {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "engine.example.com"}
    return env | changes


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_error_pages_show_no_settings_or_secrets(client, settings):
    settings.DEBUG = False

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert settings.SECRET_KEY not in response.content.decode()
    assert "DATABASES" not in response.content.decode()
    assert "urlpatterns" not in response.content.decode().lower()
