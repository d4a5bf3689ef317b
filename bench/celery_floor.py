"""The Celery hop alone: how long a task takes from `delay()` to its start, and the CPU it costs, with nothing
of the engine in it.

A Celery app of its own, set up as the engine's (Redis broker, JSON, late acknowledgement, prefetch 1, a
prefork pool of the same concurrency, task events for Flower, the sent event), runs a task that only notes
when it started, on a Redis of its own set up as `make run`'s broker. What this hop costs is part of every
order's overhead, however fast the engine's own code.
"""

import contextlib
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from celery import Celery

from bench.report import spread

STARTED = "bench-celery-floor-started"
READY_TIMEOUT = 60

# No Django fix-up: nothing of the engine is loaded, not even its settings.
app = Celery(
    "bench_celery_floor", broker=os.environ.get("BENCH_CELERY_FLOOR_BROKER", "redis://127.0.0.1:6379/0"), fixups=[]
)
app.conf.update(
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=True,
    broker_connection_retry_on_startup=True,
)


@functools.cache
def _store() -> redis.Redis:
    # One client per pool process, created by its first task; the pool's processes are forked from a parent
    # that never made one.
    return redis.Redis.from_url(app.conf.broker_url)


@app.task(name="bench.started")
def started(sent: float) -> None:
    at = time.time()
    _store().rpush(STARTED, at - sent)


@contextlib.contextmanager
def _redis_and_worker(concurrency: int) -> Iterator[tuple[redis.Redis, subprocess.Popen, Path, int]]:
    """A Redis and a worker of this module's app, the worker past a first round of tasks; its log, the Redis's pid."""
    # Imported here: importing the engine package also connects the engine's Celery signal handlers, which
    # the worker of this module must not have.
    from engine.devservers import EmbeddedRedis, free_port

    with tempfile.TemporaryDirectory(prefix="engine-bench-celery-") as folder:
        server = EmbeddedRedis(Path(folder), free_port()).start()
        log = Path(folder) / "worker.log"
        try:
            app.conf.broker_url = server.url
            store = redis.Redis.from_url(server.url)
            env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
            env["BENCH_CELERY_FLOOR_BROKER"] = server.url
            command = [sys.executable, "-m", "celery", "-A", "bench.celery_floor", "worker", "-P", "prefork"]
            command += ["-c", str(concurrency), "-l", "warning", "-n", "bench-floor@%h"]
            root = Path(__file__).resolve().parent.parent
            with open(log, "wb") as output:
                worker = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT)
            try:
                # Ready once it has run a first round of tasks, which also warms its pool up.
                for _ in range(2 * concurrency):
                    started.delay(time.time())
                _wait_for(store, 2 * concurrency, worker, log, READY_TIMEOUT)
                store.delete(STARTED)
                yield store, worker, log, server.process.pid
            finally:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        finally:
            server.stop()


def measure(*, concurrency: int, tasks: int = 200, interval: float = 0.03) -> dict:
    """Send `tasks` tasks `interval` apart to a Redis and a worker of their own; `delay()`'s own time and the
    time from before `delay()` to the task's start, in seconds."""
    with _redis_and_worker(concurrency) as (store, worker, log, _):
        sends = []
        for _ in range(tasks):
            before = time.time()
            started.delay(before)
            sends.append(time.time() - before)
            time.sleep(interval)
        _wait_for(store, tasks, worker, log, 30)
        to_start = [float(value) for value in store.lrange(STARTED, 0, -1)]
    return {"tasks": tasks, "delay": sends, "to_start": to_start}


def cpu_per_task(*, concurrency: int, tasks: int = 2000) -> dict[str, float]:
    """CPU milliseconds per task of the sender (`delay()`), the worker (its main and pool processes) and
    Redis, with `tasks` tasks sent as fast as `delay()` returns."""
    from bench.probes import cpu_seconds

    with _redis_and_worker(concurrency) as (store, worker, log, redis_pid):
        processes = {"worker": worker.pid, "redis": redis_pid}
        before = cpu_seconds(processes, {})
        for _ in range(tasks):
            started.delay(time.time())
        sent = cpu_seconds(processes, {})["client"]
        _wait_for(store, tasks, worker, log, 120)
        after = {**cpu_seconds(processes, {}), "client": sent}
    used = {name: (after[name] - before[name]) * 1000 / tasks for name in before}
    return {"worker": used["worker"], "redis": used["redis"], "sender": used["client"]}


def _wait_for(store: redis.Redis, count: int, worker: subprocess.Popen, log: Path, seconds: float) -> None:
    """Until `count` tasks have noted their start; an error with the worker's output if it ends or is late."""
    deadline = time.monotonic() + seconds
    while store.llen(STARTED) < count:
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"the Celery floor's worker ran {store.llen(STARTED)} of {count} tasks:\n{log.read_text()[-2000:]}"
            )
        time.sleep(0.05)


def floor_rows(figures: dict) -> list[tuple[str, str]]:
    return [
        ("`delay()` p50 / p99 / max", spread(figures["delay"], unit="ms", scale=1000)),
        (
            "from before `delay()` to the task's start p50 / p99 / max",
            spread(figures["to_start"], unit="ms", scale=1000),
        ),
    ]
