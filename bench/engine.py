"""An engine of the benchmark's own: the `make run` stack on free loopback ports in a temporary folder."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from engine.devservers import free_port
from engine.stack import Stack

# The benchmark's engine gets servers of its own, so none of these may point it elsewhere.
SERVER_URLS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "DEX_LEDGER_URL")


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


@contextlib.contextmanager
def own_engine(*, latency_scale: float, concurrency: int) -> Iterator[tuple[str, str]]:
    """Start web, worker, beat, Flower, PostgreSQL and Redis; yield the API's base URL and the demo
    account's token; stop them all."""
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
            # One account places every order of the benchmark: its limits must not be what is measured.
            ORDER_MAX_OPEN_PER_ACCOUNT="1000000",
            THROTTLE_PLACE_RATE="1000000/min",
            THROTTLE_READ_RATE="1000000/min",
        )
        log = Path(tmp) / "engine.log"
        with _environ(env):
            stack = Stack(log_path=log)
        print(f"starting an engine on 127.0.0.1:{port}, worker concurrency {concurrency}, log {log}", flush=True)
        try:
            try:
                stack.start()
            except Exception:
                print(f"the engine did not start; the end of its log:\n{_tail(log)}", flush=True)
                raise
            yield f"http://127.0.0.1:{port}", stack.token
        finally:
            print("stopping the engine...", flush=True)
            stack.stop()
