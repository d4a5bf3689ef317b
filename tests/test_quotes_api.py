"""GET /api/quotes: the route preview validates like an order, places nothing, and says why when
there is no route."""

import time
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from dex.launches import Launch
from dex.tokens import Token
from orders.models import Order
from orders.venues import get_router
from tests.factories import TokenFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(venues):
    venues(DEX_LATENCY_SCALE=0, DEX_SEED=8)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory().key}")
    return client


def quote(api, **params):
    return api.get("/api/quotes", {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "2", **params})


def test_a_preview_shows_each_venues_quote_and_the_chosen_route_with_its_legs(api):
    response = quote(api)

    body = response.json()
    assert response.status_code == 200
    assert (body["tokenIn"], body["tokenOut"], body["amount"]) == ("SOL", "USDC", "2")
    assert [q["venue"] for q in body["quotes"]] == ["raydium", "meteora"]
    route = body["route"]
    assert body["chosen"] == route["venue"]
    assert Decimal(route["amountOut"]) == max(Decimal(q["amountOut"]) for q in body["quotes"])
    leg = route["legs"][0]
    assert set(leg) == {
        "venue", "tokenIn", "tokenOut", "amountIn", "amountOut", "fee", "feeRate", "priceImpact", "binsCrossed",
    }  # fmt: skip
    assert Decimal(leg["feeRate"]) >= Decimal("0.002")
    assert Decimal(route["gainBps"]) == 0
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"tokenIn": "DOGE"}, "tokenIn", "Unknown token"),
        ({"tokenOut": "SOL"}, "tokenOut", "Must differ"),
        ({"amount": "0"}, "amount", "greater than 0"),
        ({"amount": "1.0000000001"}, "amount", "at most 9 decimal places"),
        ({"amount": "1e3"}, "amount", ""),
        ({"amount": "lots"}, "amount", ""),
    ],
)
def test_a_preview_validates_the_trade_like_an_order(api, params, field, message):
    response = quote(api, **params)

    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_a_preview_needs_every_parameter(api):
    response = api.get("/api/quotes", {"tokenIn": "SOL"})

    assert response.status_code == 400
    assert set(response.json()) == {"tokenOut", "amount"}


def test_a_preview_needs_an_account():
    assert APIClient().get("/api/quotes", {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}).status_code == 401


def test_a_token_listed_but_not_launched_has_no_route_yet(api):
    token = Token("LATER", "LATERmint", 6, Decimal("0.01"))
    get_router().launches.list(Launch(token=token, venue="raydium", launch_at=time.time() + 3600))

    response = quote(api, tokenOut="LATER")

    assert response.status_code == 422
    assert "No route" in response.json()["detail"]


def test_a_preview_when_no_venue_answers_is_a_503_to_retry(api, venues):
    venues(DEX_LATENCY_SCALE=0, DEX_FAILURE_RATE=1.0)

    response = quote(api)

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "timed out" in response.json()["detail"]
