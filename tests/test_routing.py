"""Routing on the real stack: splits, two hops and the route preview, through daphne, Celery,
PostgreSQL and Redis."""

from decimal import Decimal

import httpx
import pytest

from tests.conftest import Engine, Process

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_large_order_is_split_across_both_venues_and_confirmed_as_one_transaction(live):
    # Large enough that Meteora's bins alone would cost more than sharing it with Raydium.
    placed = live.place(tokenIn="SOL", tokenOut="USDC", amount="3000", slippageBps=500)
    with live.stream(placed["orderId"]) as stream:
        messages = stream.collect()
    order = live.http.get(f"/api/orders/{placed['orderId']}/").json()

    data = {m["status"]: m["data"] for m in messages}
    route = data["routing"]["route"]
    assert order["status"] == "confirmed"
    assert route["kind"] == "split"
    assert [leg["venue"] for leg in route["legs"]] == ["raydium", "meteora"]
    assert sum(Decimal(leg["amountIn"]) for leg in route["legs"]) == Decimal(3000)
    assert Decimal(route["gainBps"]) > 0
    assert all(Decimal(leg["priceImpact"]) > 0 and Decimal(leg["fee"]) > 0 for leg in route["legs"])
    assert data["building"]["steps"][1:] == [
        f"swap {leg['amountIn']} SOL for USDC on {leg['venue']}" for leg in route["legs"]
    ]
    assert [leg["venue"] for leg in data["confirmed"]["legs"]] == ["raydium", "meteora"]
    assert order["venue"] == "raydium+meteora"
    assert order["route"] == route
    swaps = live.swaps(placed["orderId"])
    assert len(swaps) == 1 and swaps[0].signature == order["txHash"]
    assert swaps[0].amount_out == Decimal(order["amountOut"])


def test_a_pair_without_a_direct_pool_routes_through_two_hops(live):
    placed = live.place(tokenIn="BONK", tokenOut="JUP", amount="2000000")

    order = live.wait_terminal(placed["orderId"])

    route = order["route"]
    assert order["status"] == "confirmed"
    assert route["kind"] == "two_hop"
    first, second = route["legs"]
    assert (first["tokenIn"], second["tokenOut"]) == ("BONK", "JUP")
    assert first["tokenOut"] == second["tokenIn"] in ("USDC", "SOL")
    assert second["amountIn"] == first["amountOut"]
    confirmed = order["events"][-1]["data"]
    assert [leg["tokenOut"] for leg in confirmed["legs"]] == [first["tokenOut"], "JUP"]


@pytest.fixture
def still_market(engine):
    """Web and worker over a market that holds still: no walk, pools back at once after a swap."""
    still = {"DEX_MARKET_STEP": "0", "DEX_POOL_RECOVERY": "0"}
    engine.start_worker(**still)
    port = Engine.free_port()
    web = Process("daphne", Engine.web_command(port), {**engine.env, **still}, ready_line="Listening on TCP address")
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Token {engine.token}"}, timeout=10
    )
    yield client
    client.close()
    web.stop()
    engine.stop_worker()


def test_the_preview_answers_the_route_the_order_then_executes(still_market, engine):
    trade = {"tokenIn": "USDC", "tokenOut": "SOL", "amount": "150000"}

    preview = still_market.get("/api/quotes", params=trade)
    placed = still_market.post("/api/orders/execute", json={**trade, "slippageBps": 500})
    order = engine.wait_terminal(placed.json()["orderId"])

    assert preview.status_code == 200, preview.text
    expected, executed = preview.json()["route"], order["route"]
    assert order["status"] == "confirmed"
    assert expected["kind"] == "split"
    ignored = {"quoteId", "expiresAt"}
    assert {k: v for k, v in executed.items() if k not in ignored} == {
        k: v for k, v in expected.items() if k not in ignored
    }
    # Meteora's bins could not fill it alone, so only Raydium quotes it alone; the split takes both.
    assert [q["venue"] for q in preview.json()["quotes"]] == ["raydium"]
    assert [leg["venue"] for leg in expected["legs"]] == ["raydium", "meteora"]
