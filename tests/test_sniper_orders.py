"""Sniper orders: they wait for a new token's pool and trade on its first block, not before."""

import time
from datetime import datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from dex.errors import NoRouteAvailable
from dex.launches import Launch, MemoryLaunchBoard
from dex.ledger import MemoryLedger
from dex.router import build_router
from dex.tokens import Token
from dex.venue import Simulation
from orders.models import Order
from orders.states import Status
from orders.triggers import orders_trigger_launches
from orders.venues import get_router
from tests.factories import TokenFactory

NEW = Token(symbol="NEWCOIN", mint="NEWCOINmint", decimals=6, reference_usd=Decimal("0.01"))


def test_a_new_token_trades_only_on_its_venue_and_only_from_its_launch():
    board = MemoryLaunchBoard()
    router = build_router(simulation=Simulation(latency_scale=0, seed=1), ledger=MemoryLedger(), launches=board)
    board.list(Launch(token=NEW, venue="meteora", launch_at=time.time() + 3600))

    with pytest.raises(NoRouteAvailable, match="no route"):
        router.route("SOL", "NEWCOIN", Decimal(1), key="a")
    board.list(Launch(token=NEW, venue="meteora", launch_at=time.time() - 1))
    after = router.route("SOL", "NEWCOIN", Decimal(1), key="b")

    assert [q.venue for q in after.quotes] == ["meteora"]
    assert after.best.amount_out > 9000  # 1 SOL at 100 USD buys about 10,000 at 0.01 USD
    assert ("SOL", "NEWCOIN") not in router.venue("raydium").pools_between("SOL", "NEWCOIN", time.time())


def list_new_token(symbol: str, launch_in: float, venue: str = "raydium") -> Launch:
    launch = Launch(
        token=NEW.__class__(symbol, f"{symbol}mint", 6, Decimal("0.01")), venue=venue, launch_at=time.time() + launch_in
    )
    get_router().launches.list(launch)
    return launch


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory().key}")
    return client


@pytest.mark.django_db
def test_a_sniper_order_waits_for_a_listed_token_and_is_queued_only_near_its_launch(
    api, django_capture_on_commit_callbacks
):
    list_new_token("LATER", 3600)
    list_new_token("SOON", 0.1)
    later = api.post(
        "/api/orders/execute", {"type": "sniper", "tokenIn": "SOL", "tokenOut": "LATER", "amount": "1"}, format="json"
    )
    soon = api.post(
        "/api/orders/execute",
        {"type": "sniper", "tokenIn": "SOL", "tokenOut": "SOON", "amount": "1", "maxPrice": "0.0002"},
        format="json",
    )

    with django_capture_on_commit_callbacks() as callbacks:
        triggered = orders_trigger_launches()

    assert (later.status_code, soon.status_code) == (201, 201)
    assert [str(order_id) for order_id in triggered] == [soon.json()["orderId"]]
    assert len(callbacks) == 1
    assert Order.objects.get(pk=later.json()["orderId"]).status == Status.WAITING
    assert Order.objects.get(pk=soon.json()["orderId"]).max_price == Decimal("0.0002")


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_sniper_order_fires_on_its_tokens_launch_and_not_before(live):
    beat = live.start_beat(ORDER_TRIGGER_INTERVAL="0.2")
    try:
        launch = list_new_token("SNIPE", 2.0)
        placed = live.place(type="sniper", tokenOut="SNIPE", amount="1")
        order = live.wait_terminal(placed["orderId"])
    finally:
        beat.stop()

    events = {
        e["status"]: datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp() for e in order["events"]
    }
    assert [e["status"] for e in order["events"]] == [
        "pending",
        "waiting",
        "routing",
        "building",
        "submitted",
        "confirmed",
    ]
    assert order["venue"] == "raydium"
    assert events["waiting"] < launch.launch_at <= events["routing"] < launch.launch_at + 1.5
    assert live.swaps(placed["orderId"])[0].token_out == "SNIPE"


@pytest.mark.django_db
def test_an_operator_launches_a_token_from_the_admin(admin_client, api):
    list_new_token("ADMINX", 3600)
    placed = api.post(
        "/api/orders/execute", {"type": "sniper", "tokenIn": "USDC", "tokenOut": "ADMINX", "amount": "5"}, format="json"
    )

    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "launch_tokens_now", "_selected_action": [placed.json()["orderId"]]},
        follow=True,
    )

    assert "Launched: ADMINX." in response.content.decode()
    assert get_router().launches.get("ADMINX").launched(time.time())
    assert [str(i) for i in orders_trigger_launches()] == [placed.json()["orderId"]]


def test_list_token_lists_a_launch_for_later(capsys):
    from django.core.management import call_command

    call_command("list_token", "CMDX", "--price", "0.5", "--venue", "meteora", "--launch-in", "60")

    launch = get_router().launches.get("CMDX")
    assert (launch.venue, launch.token.reference_usd) == ("meteora", Decimal("0.5"))
    assert 55 < launch.launch_at - time.time() <= 60
