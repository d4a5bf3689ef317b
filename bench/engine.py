"""An engine of the benchmark's own: the `make run` stack on free loopback ports in a temporary folder."""

import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from celery import Celery

from bench.probes import cpu_seconds
from engine.devservers import EmbeddedPostgres, EmbeddedRedis, free_port
from engine.stack import Stack

# The benchmark's engine gets servers of its own, so none of these may point it elsewhere.
SERVER_URLS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "DEX_LEDGER_URL", "CACHE_URL")


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Stack reads its settings from os.environ when it is built; give it these, then restore."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class BenchStack(Stack):
    """The `make run` stack, with the channel layer on a Redis of its own, and PostgreSQL recording when each
    transaction committed.

    A Redis that carries nothing but the channel layer makes its command counts the channel layer's round
    trips. The commit times (`pg_xact_commit_timestamp`) are where an event's fan-out starts.
    """

    postgres_settings = {"track_commit_timestamp": "on"}

    def __init__(self, *, log_path: Path) -> None:
        super().__init__(log_path=log_path)
        self.channel_redis: EmbeddedRedis | None = None

    def start_servers(self) -> None:
        super().start_servers()
        self.channel_redis = EmbeddedRedis(self.data_dir / "channels", free_port(), durable=False).start()
        self.servers.append(self.channel_redis)
        self.env["CHANNEL_LAYER_URL"] = self.channel_redis.url


@dataclass
class Engine:
    url: str
    token: str
    stack: BenchStack
    concurrency: int
    latency_scale: float

    @property
    def database_url(self) -> str:
        return self.stack.env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)

    @property
    def redis_url(self) -> str:
        return self.stack.env["REDIS_URL"]

    @property
    def channel_layer_url(self) -> str:
        return self.stack.env["CHANNEL_LAYER_URL"]

    @property
    def postgres_log(self) -> Path:
        return self.stack.data_dir / "postgres.log"

    def pid(self, name: str) -> int:
        return self.stack.processes[name].pid

    def consume(self, *, on: bool) -> None:
        """Have the running worker stop or resume taking orders from its queue (Celery's remote control); the
        orders placed meanwhile wait there."""
        app = Celery(broker=self.redis_url)
        control = app.control.add_consumer if on else app.control.cancel_consumer
        if not control("celery", reply=True, timeout=10):
            raise RuntimeError(f"the worker did not answer {'add' if on else 'cancel'}_consumer")

    def cpu_seconds(self) -> Counter:
        """CPU seconds used so far by each part of the engine, and by this process, its client."""
        ports: dict[str, list[int]] = {"postgres": [], "redis": []}
        for server in self.stack.servers:
            ports["postgres" if isinstance(server, EmbeddedPostgres) else "redis"].append(server.port)
        pids = {name: process.pid for name, process in self.stack.processes.items()}
        return cpu_seconds(pids, ports)


@contextlib.contextmanager
def own_engine(
    *,
    latency_scale: float,
    concurrency: int,
    quiet: bool = False,
    web_processes: int | None = None,
) -> Iterator[Engine]:
    """Start web, worker, beat, Flower, PostgreSQL and two Redis servers; yield the running engine; stop them all.

    The web runs `make run`'s WEB_PROCESSES daphne processes (one per CPU) unless `web_processes` says otherwise.
    """
    with tempfile.TemporaryDirectory(prefix="engine-bench-", ignore_cleanup_errors=True) as tmp:
        port = free_port()
        env = {name: value for name, value in os.environ.items() if name not in SERVER_URLS}
        env.update(
            PORT=str(port),
            FLOWER_PORT=str(free_port()),
            EMBEDDED_PG_PORT=str(free_port()),
            EMBEDDED_REDIS_PORT=str(free_port()),
            ENGINE_DATA_DIR=str(Path(tmp) / "data"),
            WORKER_CONCURRENCY=str(concurrency),
            DEX_LATENCY_SCALE=str(latency_scale),
            # Production settings, not `make run`'s: DEBUG keeps every query in memory and logs it.
            DEBUG="false",
            SECURE_SSL_REDIRECT="false",
            # One account places every order of the benchmark: its limits must not be what is measured.
            ORDER_MAX_OPEN_PER_ACCOUNT="100000000",
            THROTTLE_PLACE_RATE="100000000/min",
            THROTTLE_READ_RATE="100000000/min",
        )
        if web_processes:
            env["WEB_PROCESSES"] = str(web_processes)
        log = Path(tmp) / "engine.log"
        with _environ(env):
            stack = BenchStack(log_path=log)
        if not quiet:
            print(
                f"starting an engine on 127.0.0.1:{port}: {stack.web_processes} web processes, worker concurrency "
                f"{concurrency}, DEX latency scale {latency_scale:g}, log {log}",
                flush=True,
            )
        began = time.monotonic()
        try:
            try:
                # Stack prints where its servers are: interesting in `make run`, noise here.
                with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
                    stack.start()
            except Exception:
                print(f"the engine did not start; the end of its log:\n{_tail(log)}", flush=True)
                raise
            if not quiet:
                print(f"  engine ready in {time.monotonic() - began:.0f} s", flush=True)
            yield Engine(
                url=f"http://127.0.0.1:{port}",
                token=stack.token,
                stack=stack,
                concurrency=concurrency,
                latency_scale=latency_scale,
            )
        finally:
            began = time.monotonic()
            stack.stop()
            if not quiet:
                print(f"  engine stopped in {time.monotonic() - began:.0f} s", flush=True)


@contextlib.contextmanager
def engine_or_url(url: str | None, token: str, *, latency_scale: float, concurrency: int) -> Iterator[tuple[str, str]]:
    """The engine at `url` when one is given (taken to run as described), else one of the benchmark's own."""
    if url:
        yield url.rstrip("/"), token
        return
    with own_engine(latency_scale=latency_scale, concurrency=concurrency) as engine:
        yield engine.url, engine.token
