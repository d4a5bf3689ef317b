"""Places orders over HTTP and follows each over its WebSocket stream to the terminal event.

The client shares the engine's CPUs, so what it spends is taken from the engine: it places orders
with aiohttp, whose POST costs about a fortieth of httpx's with 50 requests in flight (0.12 against
5.1 ms of CPU per POST, on a server that only answers 201).
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from websockets.asyncio.client import connect

CONNECTIONS = 50
HTTP_TIMEOUT = 30.0
FETCH_SECONDS = 120.0
PROGRESS_SECONDS = 5.0
ORDER = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "10"}
TERMINAL = ("confirmed", "failed")


@dataclass
class OrderTiming:
    """One order as the client saw it; every time is in Unix seconds on this machine's clock."""

    order_id: str = ""
    posted_at: float | None = None  # the POST was sent
    accepted_at: float | None = None  # its 201 arrived
    terminal_at: float | None = None  # the terminal event arrived over the WebSocket
    status: str = "unplaced"
    error: str = ""
    # From GET /api/orders/<id>/ once finished: [{"status", "timestamp", "venue_ms"}] with engine
    # timestamps; venue_ms is the time the event's step spent in venue calls, when the engine records it.
    events: list[dict] = field(default_factory=list)


async def run_scenario(
    base_url: str,
    *,
    token: str,
    name: str,
    orders: int,
    interval: float,
    time_limit: float,
    connections: int = CONNECTIONS,
    fetch_events: bool = True,
    in_flight: int | None = None,
    before_fetch: Callable[[], None] | None = None,
) -> list[OrderTiming]:
    """Place `orders` orders `interval` seconds apart (0: all at once) and time each one; with
    `in_flight`, no more than that many orders are placed and not yet finished at any moment.
    `before_fetch` is called once every order has finished, before their events are fetched.

    Orders without a terminal event `time_limit` seconds after the last one was placed are left
    unfinished, so a broken engine ends the scenario instead of hanging it.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + (orders - 1) * interval + time_limit
    ws_base = "ws" + base_url.removeprefix("http")
    timings = [OrderTiming() for _ in range(orders)]
    slots = asyncio.Semaphore(connections)
    async with http_session(base_url, token=token, connections=connections) as client:
        progress = asyncio.create_task(_show_progress(name, timings, deadline))
        try:
            flight = asyncio.Semaphore(in_flight or orders)
            async with asyncio.TaskGroup() as group:
                for index, timing in enumerate(timings):
                    await asyncio.sleep(max(0.0, start + index * interval - loop.time()))
                    await flight.acquire()
                    task = group.create_task(_follow(client, ws_base, token, timing, slots, deadline))
                    task.add_done_callback(lambda _: flight.release())
        finally:
            progress.cancel()
        _print_progress(name, timings)
        if before_fetch is not None:
            before_fetch()
        if not fetch_events:
            return timings
        # An order whose events did not come back in time is left out of the derived figures.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FETCH_SECONDS):
                await asyncio.gather(*(_fetch_events(client, timing, slots) for timing in timings if timing.order_id))
    return timings


def http_session(base_url: str, *, token: str, connections: int = CONNECTIONS) -> aiohttp.ClientSession:
    """A session sending the token, keeping at most `connections` connections open."""
    return aiohttp.ClientSession(
        base_url,
        headers={"Authorization": f"Token {token}"},
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT),
    )


async def _follow(
    client: aiohttp.ClientSession,
    ws_base: str,
    token: str,
    timing: OrderTiming,
    slots: asyncio.Semaphore,
    deadline: float,
) -> None:
    try:
        async with asyncio.timeout_at(deadline):
            async with slots:
                timing.posted_at = time.time()
                async with client.post("/api/orders/execute", json=ORDER) as response:
                    response.raise_for_status()
                    placed = await response.json()
            timing.accepted_at = time.time()
            timing.order_id = placed["orderId"]
            timing.status = "pending"
            stream = f"{ws_base}/ws/orders/{timing.order_id}/"
            async with connect(stream, subprotocols=["token", token], open_timeout=HTTP_TIMEOUT) as socket:
                async for message in socket:
                    event = json.loads(message)
                    if event.get("status") in TERMINAL:
                        timing.terminal_at = time.time()
                        timing.status = event["status"]
                        return
            timing.error = "the stream closed before a terminal event"
    except TimeoutError:
        timing.error = "no terminal event within the time limit"
    except Exception as exc:  # one order's trouble must not stop the others
        timing.error = f"{type(exc).__name__}: {exc}"


async def _fetch_events(client: aiohttp.ClientSession, timing: OrderTiming, slots: asyncio.Semaphore) -> None:
    try:
        async with slots, client.get(f"/api/orders/{timing.order_id}/") as response:
            response.raise_for_status()
            order = await response.json()
        timing.events = [
            {
                "status": event["status"],
                "timestamp": datetime.fromisoformat(event["timestamp"]).timestamp(),
                "venue_ms": (event.get("data") or {}).get("venueMs"),
            }
            for event in order["events"]
        ]
    except Exception as exc:
        timing.error = timing.error or f"events not fetched: {type(exc).__name__}: {exc}"


async def _show_progress(name: str, timings: list[OrderTiming], deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        await asyncio.sleep(PROGRESS_SECONDS)
        _print_progress(name, timings)


def _print_progress(name: str, timings: list[OrderTiming]) -> None:
    placed = sum(1 for timing in timings if timing.order_id)
    confirmed = sum(1 for timing in timings if timing.status == "confirmed")
    failed = sum(1 for timing in timings if timing.status == "failed")
    errors = sum(1 for timing in timings if timing.error)
    print(
        f"  {name}: placed {placed}/{len(timings)}, confirmed {confirmed}, failed {failed}, errors {errors}",
        flush=True,
    )


def warm_up(base_url: str, *, token: str, orders: int, time_limit: float = 120) -> list[OrderTiming]:
    """A worker process's first order also pays for its connections and imports (seconds, not
    milliseconds), so every process serves an order or two before anything is timed."""
    print(f"  warm-up: {orders} orders at once, not counted", flush=True)
    return asyncio.run(
        run_scenario(base_url, token=token, name="warm-up", orders=orders, interval=0, time_limit=time_limit)
    )
