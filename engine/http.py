"""HTTP for daphne: each request runs Django's WSGI handler, start to finish, on one pooled thread.

Every view of the engine is synchronous. Django's ASGI handler runs such a view with a thread hop
per synchronous middleware, per signal and for the view itself, and starts and joins a new thread
for every request: about 2 ms of a request's CPU, more than a whole `/healthz` costs under WSGI.
Here the request is read on the event loop, handled in one hop on a bounded pool of threads, and
its answer sent from the loop again. The WebSocket side is untouched: it stays async Channels code.
"""

import asyncio
import json
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class BodyTooLarge(Exception):
    pass


class ThreadedWsgi:
    """An ASGI app that answers HTTP with a WSGI app run on `threads` threads, and the requests for
    `venue_paths` on `venue_threads` threads of their own.

    A request for one of `venue_paths` waits on the venues (a route preview: 200 ms at the seed's
    pace) and holds its thread all that time. On a pool of its own it keeps no other request
    waiting for a thread, and the main pool can stay as small as requests that only use the CPU,
    PostgreSQL and Redis want: more of those at once only contend for the process's GIL.

    The answer is built in full before it is sent: the engine's answers are JSON documents, admin
    pages and static files, none of them a stream.
    """

    def __init__(
        self,
        app: WsgiApp,
        *,
        threads: int,
        max_body_bytes: int,
        venue_threads: int = 0,
        venue_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.venue_paths = frozenset(path.rstrip("/") for path in venue_paths)
        self.venue_pool = (
            ThreadPoolExecutor(max_workers=venue_threads, thread_name_prefix="http-venue")
            if venue_threads and self.venue_paths
            else self.pool
        )

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        # Refused before a byte of the body is read when its declared length is already too much.
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_body_bytes:
            await _send(send, _too_large(self.max_body_bytes))
            return
        try:
            body = await self._body(receive)
        except BodyTooLarge:
            await _send(send, _too_large(self.max_body_bytes))
            return
        if body is None:  # the client went away before its request was complete
            return
        environ = wsgi_environ(scope, body)
        pool = self.venue_pool if scope["path"].rstrip("/") in self.venue_paths else self.pool
        answer = await asyncio.get_running_loop().run_in_executor(pool, self._handle, environ)
        await _send(send, answer)

    async def _body(self, receive: Callable) -> bytes | None:
        # A chunked body declares no length, so the limit is applied as it arrives as well.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _handle(self, environ: dict) -> Answer:
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None) -> None:
            started["status"] = int(status.split(" ", 1)[0])
            started["headers"] = [(name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers]

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            # Django sends request_finished here, so the thread's database connection is released
            # on the thread that used it.
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], body


def wsgi_environ(scope: dict, body: bytes) -> dict:
    """The WSGI environ of an ASGI HTTP scope (PEP 3333), with the body already read."""
    script_name = scope.get("root_path", "").encode().decode("latin1")
    path = scope["path"].encode().decode("latin1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        # The body as read, whatever the request declared: a chunked one has no Content-Length.
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
        environ["REMOTE_PORT"] = str(scope["client"][1])
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        if name == "CONTENT_LENGTH":
            continue
        key = name if name == "CONTENT_TYPE" else f"HTTP_{name}"
        value = raw_value.decode("latin1")
        # Repeated headers are joined as RFC 9110 allows (Cookie with "; ", as browsers send it).
        if key in environ:
            value = f"{environ[key]}{'; ' if key == 'HTTP_COOKIE' else ','}{value}"
        environ[key] = value
    return environ


async def _send(send: Callable, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(max_bytes: int) -> Answer:
    body = json.dumps({"detail": f"Request body is larger than {max_bytes} bytes."}).encode()
    return 413, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body
