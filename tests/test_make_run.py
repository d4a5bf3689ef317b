"""`make run`'s launcher as a user runs it: everything answers, an order confirms, Ctrl-C stops all."""

import json
import os
import re
import signal
import subprocess
import sys
import threading

import httpx
import psutil
import pytest
from websockets.sync.client import connect

from engine.devservers import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


class Launcher:
    """`python -m engine.stack run`, the command behind `make run`, started as a user would."""

    def __init__(self, env: dict[str, str]) -> None:
        self.output: list[str] = []
        self._ready = threading.Event()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "engine.stack", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()
        assert self._ready.wait(120), "".join(self.output[-50:])
        self.children = psutil.Process(self.popen.pid).children(recursive=True)

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.output.append(line)
            if "engine is ready" in line:
                self._ready.set()

    def ctrl_c(self) -> int:
        self.popen.send_signal(signal.SIGINT)
        code = self.popen.wait(90)
        _, alive = psutil.wait_procs(self.children, timeout=10)
        assert alive == []
        return code


@pytest.fixture
def launch(tmp_path):
    port, flower_port = free_port(), free_port()
    # As on a fresh machine: none of the settings the test suite itself runs with.
    suite_only = (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "DB_CONN_MAX_AGE",
        "DB_POOL_SIZE",
    )
    env = {key: value for key, value in os.environ.items() if key not in suite_only}
    env |= {
        "ENGINE_DATA_DIR": str(tmp_path / "data"),
        "PORT": str(port),
        "FLOWER_PORT": str(flower_port),
        "EMBEDDED_PG_PORT": str(free_port()),
        "EMBEDDED_REDIS_PORT": str(free_port()),
        "DEX_LATENCY_SCALE": "0.05",
        "WORKER_CONCURRENCY": "2",
        "WEB_PROCESSES": "2",
    }
    launchers: list[Launcher] = []

    def start(**overrides: str) -> Launcher:
        launchers.append(Launcher(env | overrides))
        return launchers[-1]

    start.port, start.flower_port = port, flower_port
    yield start
    for launcher in launchers:
        if launcher.popen.poll() is None:
            # A test that failed midway still stops its engine in order: a kill would leave the
            # embedded PostgreSQL and Redis, which the launcher stops last, running.
            launcher.popen.send_signal(signal.SIGINT)
            try:
                launcher.popen.wait(90)
            except subprocess.TimeoutExpired:
                launcher.popen.kill()


def test_make_run_serves_an_order_to_confirmation_and_stops_everything_on_ctrl_c(launch):
    launcher = launch()
    banner = "".join(launcher.output)
    # Ready means the worker consumes too: its own ready line comes before the banner's.
    lines = launcher.output
    worker_ready = next(i for i, line in enumerate(lines) if "celery.apps.worker" in line and " ready." in line)
    assert worker_ready < next(i for i, line in enumerate(lines) if "engine is ready" in line)
    token = re.search(r"Demo account token +(\w+)", banner).group(1)
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{launch.port}", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    flower = f"http://127.0.0.1:{launch.flower_port}"

    placed = http.post("/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "2"}).json()
    stream = f"ws://127.0.0.1:{launch.port}/ws/orders/{placed['orderId']}/"
    with connect(stream, subprotocols=["token", token], open_timeout=10) as socket:
        statuses = [json.loads(message)["status"] for message in socket]

    assert statuses == ["pending", "routing", "building", "submitted", "confirmed"]
    # Both web processes accept from the one port the launcher bound.
    webs = [child for child in launcher.children if "daphne" in " ".join(child.cmdline())]
    assert len(webs) == 2
    for web in webs:
        listening = [c for c in web.net_connections() if c.status == psutil.CONN_LISTEN]
        assert [c.laddr.port for c in listening] == [launch.port]
    assert (
        f"curl -s -X POST http://127.0.0.1:{launch.port}/api/orders/execute -H 'Authorization: Token {token}'" in banner
    )
    assert "login admin / admin" in banner
    assert f"-m orders.watch --url ws://127.0.0.1:{launch.port} --token {token} <orderId>" in banner
    assert http.get("/admin/login/").status_code == 200
    assert http.get("/api/docs/").status_code == 200
    assert httpx.get(f"{flower}/", timeout=10).status_code == 401
    assert httpx.get(f"{flower}/", auth=("admin", "wrong"), timeout=10).status_code == 401
    assert httpx.get(f"{flower}/", auth=("admin", "admin"), timeout=10).status_code == 200
    # The query the Flower tasks page makes: the order's task is listed under its name.
    table = {"draw": 1, "start": 0, "length": 100, "order[0][column]": 0, "columns[0][data]": "name"}
    tasks = httpx.get(f"{flower}/tasks/datatable", params=table, auth=("admin", "admin"), timeout=10).json()
    executions = [t["args"] for t in tasks["data"] if t["name"] == "orders.execute_order"]
    assert executions == [f"('{placed['orderId']}',)"]
    assert launcher.ctrl_c() == 0
    assert "stopped." in "".join(launcher.output)

    # A quieter log still shows the worker's ready line the launcher waits for.
    again = launch(LOG_LEVEL="WARNING")
    history = http.get("/api/orders/").json()["results"]
    assert [(o["orderId"], o["status"]) for o in history] == [(placed["orderId"], "confirmed")]
    assert again.ctrl_c() == 0
