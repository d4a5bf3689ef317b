"""A client abusing the one-way stream is closed, and the order's other subscribers never notice."""

from contextlib import suppress

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUDGET = settings.WEBSOCKET_CLIENT_MESSAGE_BUDGET
MAX_BYTES = settings.WEBSOCKET_CLIENT_MESSAGE_MAX_BYTES
# Over daphne's own --websocket-max-message-size (1 MiB by default).
HUGE = 2 * 1024 * 1024


def send_all(socket, messages) -> None:
    """Send until the server closes; what would follow its close is not sent."""
    with suppress(ConnectionClosed):
        for message in messages:
            socket.send(message)


def flood(socket) -> None:
    send_all(socket, [f"ping {n}" for n in range(BUDGET + 10)])


def oversized(socket) -> None:
    send_all(socket, ["x" * (MAX_BYTES + 1)])


def huge(socket) -> None:
    send_all(socket, [b"x" * HUGE])


def invalid_utf8(socket) -> None:
    # A text frame whose bytes are not UTF-8: the client library sends them as they are.
    with suppress(ConnectionClosed):
        socket.send(b'{"hello": "\xff\xfe"}', text=True)


@pytest.mark.parametrize(
    ("abuse", "code"),
    [(flood, 4429), (oversized, 4413), (huge, 1006), (invalid_utf8, 1006)],
    ids=["flood", "oversized", "over-daphnes-limit", "invalid-utf8"],
)
def test_an_abusive_client_is_closed_and_another_subscriber_gets_every_event(live, abuse, code):
    order_id = live.place()["orderId"]
    with live.stream(order_id) as watcher, live.stream(order_id) as abuser:
        watcher.until("pending")
        abuse(abuser.socket)
        abused = abuser.collect()
        watched = watcher.collect()

    assert abuser.socket.close_code == code
    if code == 1006:
        # daphne fails the connection itself, by dropping it: no close frame, no message.
        assert abuser.close_code is None
    else:
        assert abused[-1] == {"error": {"code": code, "reason": abused[-1]["error"]["reason"]}}
        assert [m["seq"] for m in abused[:-1]] == list(range(1, len(abused)))
    assert [m["seq"] for m in watched] == [1, 2, 3, 4, 5]
    assert watched[-1]["status"] == "confirmed"
    assert watcher.close_code == 1000


def test_stray_messages_within_the_budget_are_ignored(live):
    order_id = live.place()["orderId"]
    strays = ["hello", '{"subscribe": "everything"}', b"\xff\xfe binary is not text", "x" * MAX_BYTES]
    with live.stream(order_id) as stream:
        stream.until("pending")
        send_all(stream.socket, (strays * BUDGET)[:BUDGET])
        messages = stream.collect()

    assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5]
    assert stream.close_code == 1000
