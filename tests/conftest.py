"""Shared fixtures: the real engine processes (daphne and a Celery worker) and clients for them."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from dex.ledger import RedisLedger, swaps_for
from dex.router import Router
from engine.devservers import free_port
from orders.models import Order
from orders.states import Status
from orders.venues import get_router

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"confirmed", "failed"}
# Fast venues for tests, slow enough that orders overlap: quotes ~40 ms, swaps 0.4-0.6 s.
TEST_LATENCY_SCALE = "0.2"
WAIT_SECONDS = 60
TEARDOWN_WAIT_SECONDS = 10
EXECUTING = (Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED)


def _database_url() -> str:
    """The test database pytest-django created, for the processes the tests start."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


class Process:
    """A server process whose output is kept, so a test can await a line instead of sleeping."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], ready_line: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._ready_line = ready_line
        self.popen = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(WAIT_SECONDS):
            self.stop()
            raise RuntimeError(f"{name} did not start:\n" + "".join(self.lines[-40:]))

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)
            if self._ready_line in line:
                self._ready.set()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Engine:
    """The engine as a client sees it: daphne on a loopback port, one Celery worker behind it."""

    env: dict[str, str]
    port: int
    token: str = ""
    web: Process | None = None
    worker: Process | None = None
    worker_env: dict[str, str] = field(default_factory=dict)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        self.ledger = RedisLedger(self.env["REDIS_URL"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    free_port = staticmethod(free_port)

    @staticmethod
    def web_command(port: int) -> list[str]:
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "engine.asgi:application"]

    def start_web(self) -> None:
        self.web = Process("daphne", self.web_command(self.port), self.env, ready_line="Listening on TCP address")

    def start_worker(self, **overrides: str) -> Process:
        """A worker with these settings; one already running with others is stopped first."""
        if self.worker and self.worker.popen.poll() is None and overrides == self.worker_env:
            return self.worker
        self.stop_worker()
        self.worker_env = overrides
        command = [sys.executable, "-m", "celery", "-A", "engine", "worker", "--concurrency", "10", "-l", "info"]
        command += ["--without-mingle", "--without-gossip", "-n", f"test-{time.monotonic_ns()}@%h"]
        self.worker = Process("worker", command, {**self.env, **overrides}, ready_line=" ready.")
        return self.worker

    def start_beat(self, **overrides: str) -> Process:
        """Beat with its periodic jobs (recovery, triggers); the caller stops it."""
        command = [sys.executable, "-m", "celery", "-A", "engine", "beat", "-l", "info"]
        command += ["-s", f"/tmp/beat-{time.monotonic_ns()}"]
        return Process("beat", command, {**self.env, **overrides}, ready_line="beat: Starting")

    def stop_worker(self) -> None:
        if self.worker:
            self.worker.stop()
            self.worker = None

    def swaps(self, order_id: str) -> list:
        """The order's swaps that landed on the simulated chain: the ground truth of execution."""
        return swaps_for(self.ledger, order_id)

    def use_token(self, token: str) -> None:
        self.token = token
        self.http.headers["Authorization"] = f"Token {token}"

    def place(self, **body) -> dict:
        response = self.http.post(
            "/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"} | body
        )
        assert response.status_code == 201, response.text
        return response.json()

    def stream(
        self, order_id: str, *, path: str | None = None, after: int | None = None, token: str | None = None, **options
    ) -> "Stream":
        """A subscriber, with this engine's token as a subprotocol unless another token is given."""
        url = f"{self.ws_url}{path or f'/ws/orders/{order_id}/'}"
        if after is not None:
            url += ("&" if "?" in url else "?") + f"after={after}"
        token = self.token if token is None else token
        return Stream(url, subprotocols=["token", token] if token else None, **options)

    def wait_terminal(self, order_id: str) -> dict:
        """Follow the stream to the order's terminal event and return the order as stored."""
        with self.stream(order_id) as stream:
            stream.collect()
        return self.http.get(f"/api/orders/{order_id}/").json()


class Stream:
    """One WebSocket subscriber of an order's stream."""

    def __init__(self, url: str, **options) -> None:
        self._connection = connect(url, open_timeout=10, **options)
        self.messages: list[dict] = []
        self.close_code: int | None = None

    def __enter__(self) -> "Stream":
        self.socket = self._connection.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._connection.__exit__(*exc)

    def until(self, status: str, timeout: float = WAIT_SECONDS) -> list[dict]:
        """Messages up to and including the first with this status."""
        deadline = time.monotonic() + timeout
        while not any(message["status"] == status for message in self.messages):
            self.messages.append(json.loads(self.socket.recv(timeout=max(0.01, deadline - time.monotonic()))))
        return self.messages

    def collect(self, timeout: float = WAIT_SECONDS) -> list[dict]:
        """Every message until the server closes the socket."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.messages.append(json.loads(self.socket.recv(timeout=max(0.01, deadline - time.monotonic()))))
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
        return self.messages


def make_token(name: str = "alice") -> str:
    return Token.objects.create(user=get_user_model().objects.create(username=name)).key


@pytest.fixture
def venues(settings):
    """Venues for in-process execution: set DEX_* settings, get the router built from them."""

    def configure(**dex_settings) -> Router:
        for name, value in dex_settings.items():
            setattr(settings, name, value)
        get_router.cache_clear()
        return get_router()

    yield configure
    get_router.cache_clear()


@pytest.fixture(scope="session")
def engine_processes(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DEX_LATENCY_SCALE": TEST_LATENCY_SCALE,
            "DB_CONN_MAX_AGE": "60",
            "DB_POOL_SIZE": "20",
            "PYTHONUNBUFFERED": "1",
        }
    live = Engine(env=env, port=free_port())
    live.start_web()
    try:
        yield live
    finally:
        live.stop_worker()
        live.web.stop()


@pytest.fixture
def engine(engine_processes, transactional_db):
    """The running engine as the client of a fresh account; the test's rows are committed."""
    engine_processes.use_token(make_token())
    yield engine_processes
    # A worker still executing one of the test's orders writes while the tables are emptied after
    # the test, and the two can deadlock: each such order is followed to its end first.
    if engine_processes.worker and engine_processes.worker.popen.poll() is None:
        executing = Order.objects.filter(status__in=EXECUTING).values_list("id", flat=True)
        for order_id in executing:
            # Suppressed: an order the test left stuck on purpose, say.
            with contextlib.suppress(Exception), engine_processes.stream(str(order_id)) as stream:
                stream.collect(timeout=TEARDOWN_WAIT_SECONDS)


@pytest.fixture
def live(engine):
    """The engine with a worker at default settings."""
    engine.start_worker()
    return engine


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so a fixture can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
