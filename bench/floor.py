"""The stack's floor: the CPU an order costs daphne, Channels, Celery and Redis with none of the engine's work.

An order is one POST, one WebSocket that receives five events and is closed, and one Celery task. Here each
runs with nothing of the engine in it (bench/floor_app.py, bench/celery_floor.py), with the engine's
client libraries, on the same CPUs: the sum is what every order would cost if the engine's own code cost
nothing, and two CPUs divided by it is the most orders a second this stack could carry on this machine.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from websockets.asyncio.client import connect

from bench import celery_floor
from bench.floor_app import EVENTS, ORDER_ID
from bench.load import ORDER
from bench.probes import cpu_seconds
from bench.report import cpu_ms

CONNECTIONS = 50
WARM_UP = 100
STARTUP_SECONDS = 30
ROOT = Path(__file__).resolve().parent.parent


def measure(*, requests: int = 2000, tasks: int = 2000, concurrency: int = 2) -> dict[str, dict[str, float]]:
    """CPU milliseconds by process: per POST, per WebSocket session, per Celery task."""
    from engine.devservers import free_port

    port = free_port()
    command = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port)]
    daphne = subprocess.Popen(
        [*command, "bench.floor_app:application"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for_port(port, daphne)
        web = asyncio.run(_web(f"127.0.0.1:{port}", daphne.pid, requests))
    finally:
        daphne.terminate()
        daphne.wait(timeout=30)
    return {**web, "task": celery_floor.cpu_per_task(concurrency=concurrency, tasks=tasks)}


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the floor's daphne ended: {process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the floor's daphne did not listen on {port} within {STARTUP_SECONDS} s")


async def _web(address: str, daphne: int, count: int) -> dict[str, dict[str, float]]:
    slots = asyncio.Semaphore(CONNECTIONS)
    async with aiohttp.ClientSession(f"http://{address}", connector=aiohttp.TCPConnector(limit=CONNECTIONS)) as http:

        async def post() -> None:
            async with slots, http.post("/api/orders/execute", json=ORDER) as response:
                response.raise_for_status()
                await response.json()

        async def session() -> None:
            async with slots, connect(f"ws://{address}/ws/orders/{ORDER_ID}/") as stream:
                received = [message async for message in stream]
            if len(received) != len(EVENTS):
                raise RuntimeError(f"the floor's WebSocket sent {len(received)} of {len(EVENTS)} events")

        figures = {}
        for name, one in (("post", post), ("session", session)):
            await asyncio.gather(*(one() for _ in range(WARM_UP)))
            before = cpu_seconds({"daphne": daphne}, {})
            await asyncio.gather(*(one() for _ in range(count)))
            figures[name] = cpu_ms(before, cpu_seconds({"daphne": daphne}, {}), count)
    return figures


def floor_lines(
    floor: dict[str, dict[str, float]], *, engine_ms: float, workers: int, cpus: int | None = None
) -> list[str]:
    """The floor as a table, beside the engine's own CPU per order at `workers` worker processes."""
    cpus = cpus or os.cpu_count() or 1
    parts = {
        "POST answered 201 (a bare ASGI function)": floor["post"],
        f"WebSocket: handshake, {len(EVENTS)} events as JSON text, close (a Channels consumer)": floor["session"],
        "Celery task that does nothing (the engine's settings, task events and the sent event on)": floor["task"],
    }
    total = sum(sum(part.values()) for part in parts.values())
    rows = [
        f"| {name} | {sum(part.values()):.2f}: "
        + ", ".join(f"{process} {ms:.2f}" for process, ms in part.items())
        + " |"
        for name, part in parts.items()
    ]
    return [
        "### The stack's floor",
        "",
        f"What an order costs the stack with none of the engine's work: daphne (one process) serving a POST and a "
        f"WebSocket of {len(EVENTS)} events, and a Celery task, each with nothing in it, measured one after another "
        f"with {CONNECTIONS} in flight, on the same CPUs, with the engine's client libraries (aiohttp, websockets) "
        "and a worker of 2 pool processes (`bench/floor.py`). Flower and PostgreSQL are not in it.",
        "",
        "| part of an order | CPU (ms), by process |",
        "| --- | --- |",
        *rows,
        f"| all three | {total:.2f} |",
        f"| orders a second the floor leaves {cpus} CPUs | {cpus * 1000 / total:.0f}/s |",
        f"| the engine's CPU per order, {workers} worker process{'es' if workers > 1 else ''} (above) | "
        f"{engine_ms:.1f} ms, "
        f"{engine_ms / total:.1f}x the floor |",
    ]
