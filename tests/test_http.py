"""HTTP through daphne: requests run Django's WSGI handler on a pool of threads (engine/http.py)."""

import asyncio
import threading

import pytest

from engine.http import ThreadedWsgi, wsgi_environ
from orders.models import Order

SCOPE = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/api/ordérs/",
    "root_path": "",
    "query_string": b"status=failed&tokenIn=SOL",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", b"999"),
        (b"transfer-encoding", b"chunked"),
        (b"x-forwarded-for", b"10.0.0.1"),
        (b"x-forwarded-for", b"10.0.0.2"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
    ],
    "client": ("127.0.0.1", 40000),
    "server": ("127.0.0.1", 8000),
}


def test_environ_maps_the_scope_as_pep_3333_asks():
    environ = wsgi_environ(SCOPE, b'{"amount": "1"}')

    assert environ["REQUEST_METHOD"] == "POST"
    # WSGI carries the path as the UTF-8 bytes spelled in latin-1, which Django decodes back.
    assert environ["PATH_INFO"] == "/api/ordérs/".encode().decode("latin1")
    assert environ["QUERY_STRING"] == "status=failed&tokenIn=SOL"
    assert environ["CONTENT_TYPE"] == "application/json"
    # The length of the body actually read, not the one declared.
    assert environ["CONTENT_LENGTH"] == "15"
    assert environ["wsgi.input"].read() == b'{"amount": "1"}'
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1,10.0.0.2"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["REMOTE_ADDR"] == environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == "8000"
    assert environ["wsgi.url_scheme"] == "http"


class Recorder:
    """A WSGI app that answers with what it was sent, and notes the threads it ran and closed on."""

    def __init__(self) -> None:
        self.ran_on: list[int] = []
        self.closed_on: list[int] = []

    def __call__(self, environ, start_response):
        self.ran_on.append(threading.get_ident())
        body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Length", environ["CONTENT_LENGTH"])])
        recorder = self

        class Result(list):
            def close(self) -> None:
                recorder.closed_on.append(threading.get_ident())

        return Result([b"got ", body])


async def answer(app, messages: list[dict], scope: dict | None = None) -> list[dict]:
    """Run the ASGI app for one request whose body arrives as `messages`; the messages it sent."""
    sent: list[dict] = []
    incoming = list(messages)

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope or SCOPE | {"headers": [(b"content-type", b"text/plain")]}, receive, send)
    return sent


def call(app, messages: list[dict], scope: dict | None = None) -> list[dict]:
    return asyncio.run(answer(app, messages, scope))


def test_a_body_in_chunks_reaches_the_app_whole_and_the_answer_comes_back():
    wsgi = Recorder()
    app = ThreadedWsgi(wsgi, threads=2, max_body_bytes=100)

    sent = call(
        app,
        [
            {"type": "http.request", "body": b"part one, ", "more_body": True},
            {"type": "http.request", "body": b"part two", "more_body": False},
        ],
    )

    assert sent == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"text/plain"), (b"x-length", b"18")],
        },
        {"type": "http.response.body", "body": b"got part one, part two"},
    ]
    # Django sends request_finished from close(): it must run where the request ran, not on the loop.
    assert wsgi.closed_on == wsgi.ran_on
    assert wsgi.ran_on[0] != threading.get_ident()


@pytest.mark.parametrize(
    "headers, chunks",
    [
        ([(b"content-length", b"101")], [b"x" * 101]),  # declared: refused before reading
        ([(b"content-length", b"ten")], [b"x"]),
        ([(b"transfer-encoding", b"chunked")], [b"x" * 60, b"x" * 60]),  # undeclared: refused as it arrives
    ],
    ids=["declared", "unreadable-length", "chunked"],
)
def test_a_body_over_the_limit_is_refused_with_413_and_never_reaches_the_app(headers, chunks):
    wsgi = Recorder()
    app = ThreadedWsgi(wsgi, threads=2, max_body_bytes=100)
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]

    sent = call(app, messages, SCOPE | {"headers": headers})

    assert sent[0]["status"] == 413
    assert sent[1]["body"] == b'{"detail": "Request body is larger than 100 bytes."}'
    assert wsgi.ran_on == []


def test_a_client_gone_before_its_body_arrived_gets_nothing_and_runs_nothing():
    wsgi = Recorder()

    sent = call(ThreadedWsgi(wsgi, threads=2, max_body_bytes=100), [{"type": "http.disconnect"}])

    assert sent == []
    assert wsgi.ran_on == []


def test_a_chunked_order_is_placed_over_daphne(live):
    def chunks():
        yield b'{"tokenIn": "SOL", '
        yield b'"tokenOut": "USDC", "amount": "1"}'

    response = live.http.post("/api/orders/execute", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 201, response.text
    assert live.wait_terminal(response.json()["orderId"])["status"] == "confirmed"


def test_a_chunked_body_over_the_limit_is_refused_over_daphne_and_stores_nothing(live):
    def chunks():
        yield b'{"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1", "pad": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    response = live.http.post("/api/orders/execute", content=chunks(), headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.json() == {"detail": "Request body is larger than 16384 bytes."}
    assert not Order.objects.exists()


def test_a_request_waiting_on_the_venues_holds_no_thread_another_request_needs():
    released = threading.Event()

    def wsgi(environ, start_response):
        if environ["PATH_INFO"] == "/api/quotes":
            assert released.wait(5)  # a route preview, waiting for the venues' answers
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    app = ThreadedWsgi(wsgi, threads=1, max_body_bytes=100, venue_threads=1, venue_paths=["/api/quotes"])

    async def get(path: str) -> bytes:
        sent = await answer(
            app, [{"type": "http.request", "body": b""}], SCOPE | {"method": "GET", "path": path, "headers": []}
        )
        return sent[1]["body"]

    async def both() -> list[bytes]:
        preview = asyncio.create_task(get("/api/quotes"))
        # The main pool's one thread answers while the preview still waits on its own.
        other = await asyncio.wait_for(get("/api/orders/"), 5)
        assert not preview.done()
        released.set()
        return [other, await preview]

    assert asyncio.run(both()) == [b"/api/orders/", b"/api/quotes"]
