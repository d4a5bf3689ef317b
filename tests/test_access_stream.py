"""Accounts on the real WebSocket: authentication, isolation, origins, and tokens kept out of logs."""

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import make_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

UNKNOWN = "6f1c1b7e-0000-4000-8000-000000000000"


@pytest.mark.parametrize("token", ["", "0" * 40, "%00", "x" * 300])
@pytest.mark.parametrize("known", [True, False])
def test_a_socket_without_a_valid_token_is_closed_with_4401_before_anything_is_sent(live, token, known):
    order_id = live.place()["orderId"] if known else UNKNOWN
    with live.stream(order_id, path=f"/api/orders/execute?orderId={order_id}&token={token}", token="") as stream:
        messages = stream.collect()

    assert (messages, stream.close_code) == ([], 4401)


@pytest.mark.parametrize(
    "path", ["/ws/orders/not-a-uuid/", "/api/orders/execute", f"/api/orders/execute?orderId={UNKNOWN}&after=-1"]
)
@pytest.mark.parametrize("token", ["", "0" * 40])
def test_a_malformed_request_without_a_valid_token_is_told_only_that_it_is_unauthenticated(live, path, token):
    with live.stream("", path=path, token=token) as stream:
        messages = stream.collect()

    assert (messages, stream.close_code) == ([], 4401)


def test_the_owner_is_let_in_with_a_subprotocol_or_a_query_token(live):
    order_id = live.place()["orderId"]
    with live.stream(order_id) as by_subprotocol:
        assert by_subprotocol.socket.subprotocol == "token"
        assert [m["status"] for m in by_subprotocol.collect()][-1] == "confirmed"
    with live.stream(order_id, path=f"/ws/orders/{order_id}/?token={live.token}", token="") as by_query:
        assert len(by_query.collect()) == 5


def test_another_accounts_order_closes_exactly_like_an_unknown_one(live):
    order_id = live.place()["orderId"]
    other = make_token("mallory")

    with live.stream(order_id, token=other) as theirs, live.stream(UNKNOWN, token=other) as unknown:
        answers = [(s.collect()[0]["error"]["code"], s.close_code) for s in (theirs, unknown)]

    assert answers == [(4404, 4404), (4404, 4404)]


def test_a_browser_from_a_foreign_origin_is_refused_and_our_own_origin_is_let_in(live):
    order_id = live.place()["orderId"]

    with pytest.raises(InvalidStatus) as refused:
        live.stream(order_id, origin="https://evil.example").__enter__()
    with live.stream(order_id, origin=f"http://127.0.0.1:{live.port}") as ours:
        assert len(ours.collect()) == 5

    assert refused.value.response.status_code == 403


def test_tokens_do_not_appear_in_the_servers_logs(live):
    order_id = live.place()["orderId"]
    with live.stream(order_id, path=f"/ws/orders/{order_id}/?token={live.token}", token="") as stream:
        stream.collect()
    live.wait_terminal(order_id)

    logs = "".join(live.web.lines + live.worker.lines)
    assert f"WSCONNECT /ws/orders/{order_id}/" in logs
    assert live.token not in logs


def test_the_server_refuses_an_oversized_body_before_reading_it(live):
    response = live.http.post(
        "/api/orders/execute", content=b"{" + b" " * 20_000 + b"}", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body is larger than 16384 bytes."}
