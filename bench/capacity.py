"""Engine capacity: venues instant, orders placed as fast as the client can, followed to their terminal
event; with where the time goes (database, channel layer, CPU profile)."""

import asyncio
import time
from collections import Counter
from pathlib import Path
from statistics import median

import psycopg

from bench import floor
from bench.engine import Engine, own_engine
from bench.load import ORDER, OrderTiming, http_session, run_scenario, warm_up
from bench.probes import (
    PG_COUNTERS,
    PG_STATS_SETTLE,
    count_statements,
    pg_counters,
    redis_commands,
    statement_log,
)
from bench.profile import Recording, profile_markdown, summarize_profile
from bench.report import Section, cpu_ms, cpu_row, error_note, spread, summarize, table

TARGET = 200  # orders a second
CONNECTIONS = 50  # the client's concurrent POSTs
# Orders placed and not yet finished: enough to keep every worker process busy, few enough that the
# client's open WebSockets do not become the load being measured.
IN_FLIGHT = 100
PROFILED_ORDERS = 300


def _snapshot(engine: Engine) -> dict:
    return {
        "pg": pg_counters(engine.database_url),
        "redis": redis_commands(engine.redis_url),
        "channels": redis_commands(engine.channel_layer_url),
        "cpu": engine.cpu_seconds(),
    }


def _per_order(before: dict, after: dict, orders: int) -> dict:
    def redis_delta(key: str) -> Counter:
        delta = after[key] - before[key]
        delta.pop("info", None)  # the probe's own INFO
        return delta

    return {
        "pg": {name: (after["pg"][name] - before["pg"][name]) / orders for name in PG_COUNTERS},
        "redis": {name: calls / orders for name, calls in redis_delta("redis").most_common()},
        "channels": {name: calls / orders for name, calls in redis_delta("channels").most_common()},
        "cpu_ms": cpu_ms(before["cpu"], after["cpu"], orders),
    }


def _timed_run(engine: Engine, orders: int, time_limit: float) -> tuple[list[OrderTiming], dict]:
    warm_up(engine.url, token=engine.token, orders=4 * engine.concurrency + 10)
    time.sleep(PG_STATS_SETTLE)
    before = _snapshot(engine)
    # CPU up to the last terminal event: what the client does after it (reading the events) is not the run's.
    cpu_at_end = {}
    timings = asyncio.run(
        run_scenario(
            engine.url,
            token=engine.token,
            name=f"capacity, {engine.concurrency} worker process(es)",
            orders=orders,
            interval=0,
            time_limit=time_limit,
            connections=CONNECTIONS,
            in_flight=IN_FLIGHT,
            before_fetch=lambda: cpu_at_end.update(engine.cpu_seconds()),
        )
    )
    time.sleep(PG_STATS_SETTLE)
    return timings, _per_order(before, {**_snapshot(engine), "cpu": Counter(cpu_at_end)}, orders)


def _without_subscribers(engine: Engine, orders: int, time_limit: float) -> dict:
    """The same orders placed with nobody following them: what the WebSockets cost, by difference.

    Finished is read from the database, polled every 20 ms, as no stream reports it.
    """

    async def place() -> list[str]:
        slots = asyncio.Semaphore(CONNECTIONS)
        async with http_session(engine.url, token=engine.token) as client:

            async def one() -> str:
                async with slots, client.post("/api/orders/execute", json=ORDER) as response:
                    response.raise_for_status()
                    return (await response.json())["orderId"]

            return await asyncio.gather(*(one() for _ in range(orders)))

    before, began = engine.cpu_seconds(), time.monotonic()
    order_ids = asyncio.run(place())
    finished = 0
    with psycopg.connect(engine.database_url, autocommit=True) as conn:
        while finished < orders and time.monotonic() - began < time_limit:
            time.sleep(0.02)
            finished = conn.execute(
                "SELECT count(*) FROM orders_order WHERE id = ANY(%s) AND status IN ('confirmed', 'failed')",
                [order_ids],
            ).fetchone()[0]
    wall = time.monotonic() - began
    after = engine.cpu_seconds()
    cpu = cpu_ms(before, after, orders)
    return {"orders": orders, "finished": finished, "wall": wall, "rate": finished / wall, "cpu_ms": cpu}


def _without_subscribers_section(workers: int, run: dict) -> str:
    rows = [
        ("orders placed / finished", f"{run['orders']} / {run['finished']}"),
        ("wall time, first POST to the last order finished in the database", f"{run['wall']:.1f} s"),
        ("orders per second", f"{run['rate']:.1f}/s"),
        cpu_row(run["cpu_ms"]),
    ]
    return "\n\n".join(
        [
            f"### Without subscribers ({workers} worker process{'es' if workers > 1 else ''})",
            f"The same engine right after, the same order placed with up to {CONNECTIONS} POSTs at once, but nobody "
            "follows the orders on a WebSocket; an order is finished when the database says so (polled every "
            "20 ms). Not the capacity asked for, which includes delivering the events: the difference is what the "
            "stream costs.",
            table(rows),
        ]
    )


def _profiled_batch(engine: Engine, results: Path, stamp: str) -> dict:
    """A batch of its own, not timed: every statement logged and both processes sampled."""
    log = engine.postgres_log
    offset = log.stat().st_size if log.exists() else 0
    statement_log(engine.database_url, on=True)
    time.sleep(0.5)  # every backend reads the new setting before its next statement
    web_path = results / f"{stamp}-profile-web.txt"
    worker_path = results / f"{stamp}-profile-worker.txt"
    recordings = [
        Recording(engine.pid("web1"), web_path),
        Recording(engine.pid("worker"), worker_path, subprocesses=True),
    ]
    try:
        timings = asyncio.run(
            run_scenario(
                engine.url,
                token=engine.token,
                name="profiled",
                orders=PROFILED_ORDERS,
                interval=0,
                time_limit=120,
                connections=CONNECTIONS,
                fetch_events=False,
                in_flight=IN_FLIGHT,
            )
        )
    finally:
        for recording in recordings:
            recording.stop()
        statement_log(engine.database_url, on=False)
    with open(log, errors="replace") as file:
        file.seek(offset)
        statements = count_statements(file.read())
    confirmed = sum(1 for timing in timings if timing.status == "confirmed")
    return {
        "orders": len(timings),
        "confirmed": confirmed,
        "statements": {
            f"{verb} {table}".strip(): count / len(timings) for (verb, table), count in statements.most_common()
        },
        "web": summarize_profile(web_path),
        "worker": summarize_profile(worker_path),
        "files": [str(web_path), str(worker_path)],
    }


def _top(calls: dict[str, float], count: int = 6) -> str:
    return ", ".join(f"{name} {calls_per_order:.1f}" for name, calls_per_order in list(calls.items())[:count])


def _run_section(workers: int, timings: list[OrderTiming], per_order: dict) -> tuple[str, dict]:
    summary = summarize(timings, latency_scale=0, concurrency=workers)
    rate = summary["confirmed"] / summary["wall"] if summary["wall"] else 0.0
    pg, channels, redis_all = per_order["pg"], per_order["channels"], per_order["redis"]
    rows = [
        ("orders placed", str(summary["placed"])),
        (
            "confirmed / failed / no terminal event",
            f"{summary['confirmed']} / {summary['failed']} / {summary['unfinished']}",
        ),
        ("wall time, first POST to last terminal event", f"{summary['wall']:.1f} s"),
        ("capacity, confirmed orders per second", f"{rate:.1f}/s", f">= {TARGET}/s", rate >= TARGET),
        ("end-to-end latency p50 / p99 / max", spread(summary["latency"])),
        ("POST round trip p50 / p99", spread(summary["post"], unit="ms", scale=1000, maximum=False)),
        ("queue wait p50 / p99", spread(summary["queue_wait"], maximum=False)),
        (
            "execution (worker start to `confirmed`) p50 / p99",
            spread(summary["execution"], unit="ms", scale=1000, maximum=False),
        ),
        ("stream delivery p50 / p99", spread(summary["delivery"], unit="ms", scale=1000, maximum=False)),
        ("PostgreSQL transactions committed per order", f"{pg['xact_commit']:.1f}"),
        (
            "rows inserted / updated / fetched per order",
            f"{pg['tup_inserted']:.1f} / {pg['tup_updated']:.1f} / {pg['tup_fetched']:.1f}",
        ),
        cpu_row(per_order["cpu_ms"]),
        ("channel-layer Redis commands per order", f"{sum(channels.values()):.1f} ({_top(channels)})"),
        (
            "other Redis commands per order (broker, cache, metrics, ledger)",
            f"{sum(redis_all.values()):.1f} ({_top(redis_all)})",
        ),
    ]
    raw = {
        "summary": {k: v for k, v in summary.items() if not isinstance(v, list)},
        "per_order": per_order,
        "orders_per_second": rate,
        "errors": dict(Counter(timing.error for timing in timings if timing.error)),
        "stage_medians": {
            name: median(summary[name]) for name in ("post", "queue_wait", "execution", "delivery") if summary[name]
        },
    }
    heading = f"### {workers} worker process{'es' if workers > 1 else ''}"
    return "\n\n".join(part for part in (heading, table(rows), error_note(timings)) if part), raw


def run_capacity(args, results: Path) -> Section:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parts, raw = [], {}
    for workers in args.capacity_workers:
        print(f"Capacity: {args.capacity_orders} orders, DEX latency scale 0, {workers} worker process(es)", flush=True)
        with own_engine(latency_scale=0, concurrency=workers) as engine:
            timings, per_order = _timed_run(engine, args.capacity_orders, args.time_limit)
            text, raw[str(workers)] = _run_section(workers, timings, per_order)
            parts.append(text)
            if workers == max(args.capacity_workers):
                print(f"  without subscribers: {args.capacity_orders // 2} orders", flush=True)
                raw["without_subscribers"] = _without_subscribers(engine, args.capacity_orders // 2, args.time_limit)
                parts.append(_without_subscribers_section(workers, raw["without_subscribers"]))
            if not args.no_profile and workers == max(args.capacity_workers):
                print(
                    f"  profiled batch: {PROFILED_ORDERS} orders, statements logged, py-spy on web and worker",
                    flush=True,
                )
                raw["profile"] = _profiled_batch(engine, results, stamp)
    print("  the stack's floor: a POST, a WebSocket and a Celery task with nothing of the engine in them", flush=True)
    raw["floor"] = floor.measure()
    busiest = str(max(args.capacity_workers))
    engine_ms = sum(raw[busiest]["per_order"]["cpu_ms"].values())
    lines = [
        "## Engine capacity: venues instant",
        "",
        "DEX latency scale 0, so an order costs only the engine's own work. Each run places its orders as fast "
        f"as the client can, with at most {CONNECTIONS} POSTs and {IN_FLIGHT} unfinished orders in flight, after a "
        "warm-up, and follows every order on its WebSocket to "
        "the terminal event; capacity = confirmed orders / (last terminal event received - first POST sent). "
        "A worker process is one process of the Celery worker's prefork pool (`--concurrency`), each executing "
        "one order at a time. The client shares the engine's two CPUs.",
        "",
        *[part + "\n" for part in parts],
        "Database figures are `pg_stat_database` deltas over the run, read once the backends have flushed their "
        "statistics; Redis figures are `INFO commandstats` deltas. The channel layer has a Redis of its own, so "
        "its counts are the channel layer's round trips alone. Both include beat's periodic jobs (about one "
        "cheap query a second).",
        "",
        *floor.floor_lines(raw["floor"], engine_ms=engine_ms, workers=int(busiest)),
    ]
    profile = raw.get("profile")
    if profile:
        files = ", ".join(Path(name).name for name in profile["files"])
        statements = profile["statements"]
        lines += [
            "",
            f"### Where the time goes ({max(args.capacity_workers)} worker processes, a batch of "
            f"{profile['orders']} orders of its own)",
            "",
            f"PostgreSQL logged {sum(statements.values()):.1f} statements per order (`log_statement = all`, "
            "beat's included):",
            "",
            "| statement | per order |",
            "| --- | --- |",
            *[f"| {name} | {count:.2f} |" for name, count in statements.items() if count >= 0.05],
            "",
            profile_markdown("Web (the first daphne process of the engine's WEB_PROCESSES)", profile["web"]),
            "",
            profile_markdown("Worker (Celery, all pool processes)", profile["worker"]),
            "",
            "py-spy `record --nonblocking --gil` at 100 Hz, so a sample is a thread running Python code (holding "
            f"the GIL), not one waiting; the raw stacks are in bench-results/: {files}.",
        ]
    raw["unfinished"] = sum(run["summary"]["unfinished"] for key, run in raw.items() if key.isdigit())
    return Section("capacity", "\n".join(lines), raw=raw)
