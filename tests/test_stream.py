"""The status stream over a real WebSocket, against daphne, a Celery worker, PostgreSQL and Redis."""

import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"]


def test_order_streams_its_whole_lifecycle_in_seq_order(live):
    placed = live.place(tokenIn="SOL", tokenOut="USDC", amount="10")
    with live.stream(placed["orderId"], path=f"/api/orders/execute?orderId={placed['orderId']}") as stream:
        messages = stream.collect()

    assert [m["status"] for m in messages] == LIFECYCLE
    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert {m["orderId"] for m in messages} == {placed["orderId"]}
    assert stream.close_code == 1000
    routing, building, submitted, confirmed = (m["data"] for m in messages[1:])
    route = routing["route"]
    assert {q["venue"] for q in routing["quotes"]} == {"raydium", "meteora"}
    assert all(Decimal(route["amountOut"]) >= Decimal(q["amountOut"]) for q in routing["quotes"])
    assert routing["chosen"] == route["venue"]
    assert building["expectedAmountOut"] == route["amountOut"]
    assert building["legs"] == route["legs"]
    assert building["wrapSol"] is True
    assert submitted["txHash"]
    assert confirmed["txHash"] == submitted["txHash"]
    assert confirmed["venue"] == route["venue"]
    # The time inside venue calls, at the tests' latency scale of 0.2: quotes ~40 ms, a swap 0.4-0.6 s.
    assert 36 <= routing["venueMs"] < confirmed["venueMs"] and 400 <= confirmed["venueMs"]
    assert Decimal(confirmed["executedPrice"]) == Decimal(confirmed["amountOut"]) / Decimal(10)


def test_order_without_sol_input_builds_no_wrap(live):
    placed = live.place(tokenIn="USDC", tokenOut="JUP", amount="25.5")
    order = live.wait_terminal(placed["orderId"])
    building = next(e for e in order["events"] if e["status"] == "building")
    assert order["status"] == "confirmed"
    assert building["data"]["wrapSol"] is False


def test_subscriber_connecting_after_completion_gets_the_whole_history(live):
    order_id = live.place()["orderId"]
    live.wait_terminal(order_id)

    with live.stream(order_id) as late:
        messages = late.collect()

    assert [m["status"] for m in messages] == LIFECYCLE
    assert late.close_code == 1000


def test_every_subscriber_gets_every_event(live):
    order_id = live.place()["orderId"]
    with live.stream(order_id) as first, live.stream(order_id) as second, live.stream(order_id) as third:
        streams = [first.collect(), second.collect(), third.collect()]

    for messages in streams:
        assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert streams[0] == streams[1] == streams[2]


def test_after_resumes_past_the_given_seq(live):
    order_id = live.place()["orderId"]
    with live.stream(order_id, after=2) as resumed:
        messages = resumed.collect()

    assert [m["seq"] for m in messages] == [3, 4, 5]
    with live.stream(order_id, after=5) as caught_up:
        assert caught_up.collect() == []
    assert caught_up.close_code == 1000


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/ws/orders/6f1c1b7e-0000-4000-8000-000000000000/", 4404),
        ("/api/orders/execute?orderId=6f1c1b7e-0000-4000-8000-000000000000", 4404),
        ("/ws/orders/not-a-uuid/", 4400),
        ("/api/orders/execute", 4400),
        ("/api/orders/execute?orderId=6f1c1b7e-0000-4000-8000-000000000000&after=-1", 4400),
    ],
)
def test_unknown_or_malformed_ids_close_with_their_codes(live, path, code):
    with live.stream("", path=path) as stream:
        messages = stream.collect()

    assert stream.close_code == code
    assert messages == [{"error": {"code": code, "reason": messages[0]["error"]["reason"]}}]
    assert messages[0]["error"]["reason"]


def test_rejected_request_over_http_answers_400_and_stores_nothing(live):
    malformed = live.http.post(
        "/api/orders/execute", content=b'{"tokenIn": "SOL",', headers={"Content-Type": "application/json"}
    )
    unknown = live.http.post("/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "DOGE", "amount": "1"})

    assert malformed.status_code == 400
    assert "JSON parse error" in malformed.json()["detail"]
    assert unknown.status_code == 400
    assert "tokenOut" in unknown.json()
    assert live.http.get("/api/orders/").json()["results"] == []


def test_watch_order_prints_a_readable_timeline(live):
    order_id = live.place(tokenIn="SOL", tokenOut="USDC", amount="3")["orderId"]
    out = StringIO()

    call_command("watch_order", order_id, url=live.ws_url, token=live.token, stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == LIFECYCLE
    assert "raydium: " in lines[1] and "meteora: " in lines[1]
    assert "txHash=" in lines[4]


def test_the_watch_command_of_the_banner_runs_in_a_terminal_without_the_engines_settings(live):
    order_id = live.place(tokenIn="SOL", tokenOut="USDC", amount="3")["orderId"]
    # A user's other terminal: none of the settings the engine runs with, not even its secret key.
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DEBUG")}
    command = [sys.executable, "-m", "orders.watch", "--url", live.ws_url, "--token", live.token, order_id]

    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert [line.split()[2] for line in result.stdout.splitlines()] == LIFECYCLE


def test_watch_order_of_an_unknown_order_says_so(live):
    with pytest.raises(CommandError, match="not found"):
        call_command(
            "watch_order", "6f1c1b7e-0000-4000-8000-000000000000", url=live.ws_url, token=live.token, stdout=StringIO()
        )
