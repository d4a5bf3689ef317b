"""Many WebSocket subscribers on one daphne process: memory per connection, and how fast an event
reaches all of an order's subscribers."""

import asyncio
import json
import time
from collections import defaultdict
from datetime import datetime

import httpx
import psycopg
from websockets.asyncio.client import connect

from bench.engine import Engine, own_engine
from bench.load import ORDER, TERMINAL, warm_up
from bench.probes import rss_bytes
from bench.report import Section, cpu_ms, cpu_row, percentile, spread, table

FANOUT_P99, MEMORY_PER_CONNECTION = 0.020, 100 * 1024  # seconds, bytes
HANDSHAKES = 50  # connections opened at once
SETTLE = 2.0  # seconds for daphne's memory to settle once every subscriber is in
LAG_TICK = 0.005  # seconds between two looks at the client's own event loop
# How a terminal event shows in the stream's JSON, found without parsing it.
TERMINAL_MARKERS = tuple(f'"status": "{status}"' for status in TERMINAL)


async def _loop_lag(lags: list[float]) -> None:
    """How late the client's event loop wakes up: a message that arrives meanwhile is stamped that late."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_TICK
        await asyncio.sleep(LAG_TICK)
        lags.append(loop.time() - due)


class Subscribers:
    """Every subscriber's connection and what reached it: (order, seq) -> arrival times."""

    def __init__(self) -> None:
        self.connected = 0
        self.failed: list[str] = []
        # (order, arrival, message) as they came; read only once the run is over (read_messages).
        self.received: list[tuple[str, float, str]] = []
        self.arrivals: dict[tuple[str, int], list[float]] = defaultdict(list)
        self.stamps: dict[tuple[str, int], float] = {}
        self.all_in = asyncio.Event()

    def read_messages(self) -> None:
        for order_id, arrived, message in self.received:
            event = json.loads(message)
            if "seq" not in event:
                self.failed.append(f"not an event: {message[:200]}")
                continue
            key = (order_id, event["seq"])
            self.arrivals[key].append(arrived)
            self.stamps[key] = datetime.fromisoformat(event["timestamp"]).timestamp()


async def _subscribe(
    url: str, token: str, order_id: str, book: Subscribers, slots: asyncio.Semaphore, total: int
) -> None:
    try:
        async with slots:
            socket = await connect(url, subprotocols=["token", token], open_timeout=60, max_queue=None)
        async with socket:
            book.connected += 1
            if book.connected + len(book.failed) == total:
                book.all_in.set()
            async for message in socket:
                # Parsed after the run: the client shares the engine's CPUs, and a burst of events is
                # what the fan-out measures.
                book.received.append((order_id, time.time(), message))
                if any(marker in message for marker in TERMINAL_MARKERS):
                    return
    except Exception as exc:  # one subscriber's trouble must not stop the others
        book.failed.append(f"{type(exc).__name__}: {exc}")
        if book.connected + len(book.failed) == total:
            book.all_in.set()


async def _measure(engine: Engine, orders: int, per_order: int, time_limit: float) -> dict:
    headers = {"Authorization": f"Token {engine.token}"}
    async with httpx.AsyncClient(base_url=engine.url, headers=headers, timeout=30) as client:
        order_ids = []
        for _ in range(orders):
            response = await client.post("/api/orders/execute", json=ORDER)
            response.raise_for_status()
            order_ids.append(response.json()["orderId"])
    web = engine.pid("web1")
    rss_before = rss_bytes(web)
    book = Subscribers()
    slots = asyncio.Semaphore(HANDSHAKES)
    total = orders * per_order
    ws_base = "ws" + engine.url.removeprefix("http")
    began = time.monotonic()
    tasks = [
        asyncio.create_task(_subscribe(f"{ws_base}/ws/orders/{order_id}/", engine.token, order_id, book, slots, total))
        for order_id in order_ids
        for _ in range(per_order)
    ]
    async with asyncio.timeout(time_limit):
        await book.all_in.wait()
    connect_seconds = time.monotonic() - began
    print(f"  {book.connected} subscribers in {connect_seconds:.1f} s, {len(book.failed)} failed", flush=True)
    await asyncio.sleep(SETTLE)
    rss_after = rss_bytes(web)
    # Only now do the orders move: every event from here on is live, none replayed.
    started = time.time()
    lags: list[float] = []
    lag = asyncio.create_task(_loop_lag(lags))
    cpu_before = engine.cpu_seconds()
    await asyncio.to_thread(engine.consume, on=True)
    print("  the worker takes orders again; waiting for every order's terminal event", flush=True)
    _, pending = await asyncio.wait(tasks, timeout=time_limit)
    cpu_after = engine.cpu_seconds()
    lag.cancel()
    for task in pending:
        task.cancel()
    commits = await asyncio.to_thread(_commit_times, engine.database_url)
    book.read_messages()
    live = {key: times for key, times in book.arrivals.items() if book.stamps[key] >= started}
    complete = {key: times for key, times in live.items() if len(times) == per_order}
    messages = sum(len(times) for times in live.values())
    return {
        "messages": messages,
        "cpu_ms": cpu_ms(cpu_before, cpu_after, messages) if messages else {},
        "orders": orders,
        "per_order": per_order,
        "connected": book.connected,
        "failed": len(book.failed),
        "failures": sorted(set(book.failed))[:5],
        "connect_seconds": connect_seconds,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "unfinished": len(pending),
        "events": len(live),
        "complete_events": len(complete),
        # The time from an event's commit to reaching all of its subscribers, and each single delivery.
        "to_all": [max(times) - commits[key] for key, times in complete.items()],
        # Split at its first arrival: the publish and the channel layer, then the web's sends to each subscriber.
        "to_first": [min(times) - commits[key] for key, times in complete.items()],
        "first_to_last": [max(times) - min(times) for times in complete.values()],
        "first_batch": _first_batch(complete, book.stamps, engine.concurrency),
        "deliveries": [arrived - commits[key] for key, times in live.items() for arrived in times],
        "stamp_to_commit": [commits[key] - book.stamps[key] for key in live],
        "client_lag": lags,
    }


def _commit_times(database_url: str) -> dict[tuple[str, int], float]:
    """When each event's transaction committed, as PostgreSQL recorded it (track_commit_timestamp)."""
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT order_id, seq, pg_xact_commit_timestamp(xmin) FROM orders_orderevent").fetchall()
    return {(str(order_id), seq): committed.timestamp() for order_id, seq, committed in rows}


def _first_batch(complete: dict, stamps: dict, concurrency: int) -> list[bool]:
    """Per event of `complete`, in its order: whether it is a routing, building or submitted event of the
    first `concurrency` orders, which the worker's pool processes all take, and so move, at the same moment."""
    routed = sorted((stamps[key], key[0]) for key in complete if key[1] == 2)
    first = {order_id for _, order_id in routed[:concurrency]}
    return [order_id in first and seq in (2, 3, 4) for order_id, seq in complete]


def run_subscribers(args) -> Section:
    orders, per_order = args.subscribed_orders, max(1, args.subscribers // args.subscribed_orders)
    print(f"Subscribers: {orders} orders x {per_order} subscribers, one daphne process", flush=True)
    # The figure asked for is per daphne process, so this engine has one.
    with own_engine(latency_scale=args.latency_scale, concurrency=args.concurrency, web_processes=1) as engine:
        warm_up(engine.url, token=engine.token, orders=2 * args.concurrency)
        engine.consume(on=False)
        figures = asyncio.run(_measure(engine, orders, per_order, args.time_limit))
    connections = figures["connected"]
    per_connection = (figures["rss_after"] - figures["rss_before"]) / connections if connections else 0
    to_all = figures["to_all"]
    p99 = percentile(to_all, 99) if to_all else None
    batch = [time for time, first in zip(to_all, figures["first_batch"], strict=True) if first]
    rest = [time for time, first in zip(to_all, figures["first_batch"], strict=True) if not first]
    rows = [
        ("subscribers connected / failed", f"{connections} / {figures['failed']} ({orders} orders x {per_order})"),
        ("time to connect them all", f"{figures['connect_seconds']:.1f} s ({HANDSHAKES} handshakes at a time)"),
        ("daphne RSS before / after", f"{figures['rss_before'] / 2**20:.1f} / {figures['rss_after'] / 2**20:.1f} MiB"),
        (
            "memory per connection (RSS delta / connections)",
            f"{per_connection / 1024:.1f} KiB",
            f"< {MEMORY_PER_CONNECTION // 1024} KiB",
            bool(connections) and per_connection < MEMORY_PER_CONNECTION,
        ),
        (
            "live events measured (reached every subscriber / all)",
            f"{figures['complete_events']} / {figures['events']}",
        ),
        (
            "fan-out: an event's commit to its arrival at all its subscribers p50 / p99 / max",
            spread(to_all, unit="ms", scale=1000),
            f"p99 <= {FANOUT_P99 * 1000:.0f} ms",
            p99 is not None and p99 <= FANOUT_P99,
        ),
        (
            f"of it: the first {args.concurrency} orders' routing, building and submitted events, moved at once "
            f"({len(batch)} events) p50 / p99 / max",
            spread(batch, unit="ms", scale=1000),
        ),
        (
            f"of it: the other events ({len(rest)}) p50 / p99 / max",
            spread(rest, unit="ms", scale=1000),
        ),
        (
            "of it: the commit to its first subscriber (the publish, the channel layer, the web's hub) p50 / p99 / max",
            spread(figures["to_first"], unit="ms", scale=1000),
        ),
        (
            "of it: the first subscriber to the last (the web's sends, the client's reads) p50 / p99 / max",
            spread(figures["first_to_last"], unit="ms", scale=1000),
        ),
        ("single delivery, from the commit p50 / p99 / max", spread(figures["deliveries"], unit="ms", scale=1000)),
        (
            "before the fan-out: an event's `timestamp` to its commit p50 / p99 / max",
            spread(figures["stamp_to_commit"], unit="ms", scale=1000),
        ),
        (
            "the client's own event loop: lateness of a 5 ms timer p50 / p99 / max",
            spread(figures["client_lag"], unit="ms", scale=1000),
        ),
        ("subscribers without a terminal event at the time limit", str(figures["unfinished"])),
    ]
    if figures["cpu_ms"]:
        rows.append(cpu_row(figures["cpu_ms"], per="delivered message", digits=2))
    markdown = "\n".join(
        [
            f"## WebSocket subscribers: {connections} on one daphne process",
            "",
            f"The worker (concurrency {args.concurrency}, DEX latency scale {args.latency_scale:g}) executes "
            f"{2 * args.concurrency} orders first, so that each of its pool processes is past its first order, "
            "then stops taking orders from its queue (Celery's `cancel_consumer`). "
            f"{orders} orders are placed, then {per_order} subscribers per order connect "
            f"to `/ws/orders/<id>/` (all {orders * per_order} open at once); daphne's RSS is read before and "
            f"{SETTLE:g} s after. Then the worker takes orders again (`add_consumer`), so every later event is "
            "a live one. CPU per delivered message is each process's CPU from `add_consumer` to the last terminal "
            "event, closing handshakes included, over the messages delivered. An event's fan-out time is from its "
            "commit, as PostgreSQL records it (`pg_xact_commit_timestamp`; the benchmark's engine runs with "
            "`track_commit_timestamp` on), to its arrival at the last of its subscribers. The event's own "
            "`timestamp` is taken before its statement runs, so the time from it to the commit is shown apart. "
            "The client is one Python process holding every socket, on the same two CPUs: an arrival is stamped "
            "when the client gets to it, and the lateness of a timer in that client shows how much later than "
            "the bytes that can be.",
            "",
            table(rows),
        ]
    )
    if figures["failures"]:
        markdown += "\n\nFailures: " + "; ".join(f"`{failure}`" for failure in figures["failures"])
    return Section("subscribers", markdown, raw=figures)
