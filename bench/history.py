"""History at scale: list and detail latency with a million orders of one account in the table."""

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from bench.engine import Engine, own_engine
from bench.report import Section, percentile, spread, table

P99 = 0.020  # seconds
# Not a read, so not held to the reads' target: timed to show that placing an order does not slow with the history.
PLACING = "`POST /api/orders/execute` by the same account"
# bench.capture_sql's name for the count a new order runs against its account's cap.
COUNT_OPEN = "count_open"
DAYS = 90  # the history spans this many days, newest an hour ago
PAIRS = [("SOL", "USDC")] * 6 + [("USDC", "SOL"), ("SOL", "USDT"), ("SOL", "BONK"), ("JUP", "USDC")]
ORDER_COLUMNS = [
    "id",
    "account_id",
    "type",
    "token_in",
    "token_out",
    "amount",
    "slippage_bps",
    "status",
    "last_seq",
    "venue",
    "tx_hash",
    "expected_amount_out",
    "min_amount_out",
    "amount_out",
    "executed_price",
    "attempts",
    "last_error",
    "failures",
    "failure_reason",
    "created_at",
    "updated_at",
]
# A confirmed order's events with their offsets from its creation (seconds), as the engine writes them.
CONFIRMED = (
    ("pending", 0.0, {"type": "market"}),
    (
        "routing",
        0.21,
        {
            "attempt": 1,
            "chosen": "raydium",
            "quotes": [{"venue": "raydium", "amount_out": "996.1"}, {"venue": "meteora", "amount_out": "995.3"}],
        },
    ),
    (
        "building",
        0.22,
        {
            "venue": "raydium",
            "expected_amount_out": "996.1",
            "min_amount_out": "991.1",
            "slippage_bps": 50,
            "wrap_sol": True,
        },
    ),
    ("submitted", 0.23, {"tx_hash": "TX", "venue": "raydium"}),
    ("confirmed", 2.7, {"tx_hash": "TX", "venue": "raydium", "executed_price": "99.61", "amount_out": "996.1"}),
)
EVENTS = {
    "confirmed": CONFIRMED,
    "failed": (CONFIRMED[0], CONFIRMED[1], ("failed", 0.5, {"error": "SLIPPAGE_EXCEEDED", "attempts": 1})),
    "cancelled": (CONFIRMED[0], ("cancelled", 0.1, {"by": "client", "from": "pending"})),
}
# Generated inside PostgreSQL, which is far faster than formatting millions of rows in Python:
# 95 % confirmed, 4 % failed, 1 % cancelled (the rare statuses are the filters worth timing),
# oldest first, as the engine would have written them.
INSERT_ORDERS = """
INSERT INTO orders_order ({columns})
SELECT gen_random_uuid(), %(account)s, 'market', token_in, token_out, 10, 50, status,
       CASE status WHEN 'confirmed' THEN 5 WHEN 'failed' THEN 3 ELSE 2 END,
       CASE WHEN status = 'cancelled' THEN '' ELSE 'raydium' END,
       CASE WHEN status = 'confirmed' THEN 'tx' || lpad(i::text, 20, '0') ELSE '' END,
       CASE WHEN status <> 'cancelled' THEN 996.1 END,
       CASE WHEN status <> 'cancelled' THEN 991.1 END,
       CASE WHEN status = 'confirmed' THEN 996.1 END,
       CASE WHEN status = 'confirmed' THEN 99.61 END,
       CASE WHEN status = 'cancelled' THEN 0 ELSE 1 END,
       CASE WHEN status = 'failed' THEN 'SLIPPAGE_EXCEEDED' ELSE '' END,
       '[]'::jsonb,
       CASE WHEN status = 'failed' THEN '{{"code": "SLIPPAGE_EXCEEDED"}}'::jsonb END,
       created, created + interval '3 seconds'
FROM (
    SELECT i,
           CASE WHEN mod(i, 100) < 95 THEN 'confirmed' WHEN mod(i, 100) < 99 THEN 'failed' ELSE 'cancelled' END
               AS status,
           (%(token_ins)s::text[])[mod(i, %(pair_count)s) + 1] AS token_in,
           (%(token_outs)s::text[])[mod(i, %(pair_count)s) + 1] AS token_out,
           %(start)s::timestamptz + (%(step)s * i) * interval '1 second' AS created
    FROM generate_series(0, %(orders)s - 1) AS i
) AS generated
"""
INSERT_EVENTS = """
INSERT INTO orders_orderevent (order_id, seq, status, data, created_at)
SELECT o.id, t.seq, t.status, replace(t.data, 'TX', o.tx_hash)::jsonb,
       o.created_at + t.offset_seconds * interval '1 second'
FROM orders_order AS o
JOIN (VALUES {values}) AS t(order_status, seq, status, data, offset_seconds) ON t.order_status = o.status
WHERE o.account_id = %(account)s
ORDER BY o.created_at, t.seq
"""


def _check_columns(conn: psycopg.Connection) -> None:
    """A column the model gained that must have a value but gets none here stops the load with its name."""
    missing = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders_order' "
        "AND is_nullable = 'NO' AND column_default IS NULL AND NOT (column_name = ANY(%s))",
        [ORDER_COLUMNS],
    ).fetchall()
    if missing:
        raise RuntimeError(f"orders_order has columns the history load does not fill: {[row[0] for row in missing]}")


def bulk_load(engine: Engine, orders: int) -> tuple[list[str], dict]:
    """Generate `orders` orders with their events; secondary indexes are dropped first and built again after,
    which is much faster than keeping them up to date row by row. Returns sample order ids and timings."""
    timings = {}
    began = time.monotonic()
    now = datetime.now(UTC) - timedelta(hours=1)
    start = now - timedelta(days=DAYS)
    values = ", ".join(
        f"('{status}', {seq}, '{name}', '{json.dumps(data)}', {offset})"
        for status, events in EVENTS.items()
        for seq, (name, offset, data) in enumerate(events, start=1)
    )
    with psycopg.connect(engine.database_url, autocommit=True) as conn:
        account_id = conn.execute("SELECT user_id FROM authtoken_token WHERE key = %s", [engine.token]).fetchone()[0]
        _check_columns(conn)
        tables = ("orders_order", "orders_orderevent")
        indexes = conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [list(tables)],
        ).fetchall()
        uniques = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = ANY(%s::regclass[]) AND contype = 'u'",
            [list(tables)],
        ).fetchall()
        with conn.transaction():
            # Foreign keys are not checked for rows that are made consistent here.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for name, _ in indexes:
                conn.execute(f"DROP INDEX {name}")
            for table_name, name, _ in uniques:
                conn.execute(f'ALTER TABLE {table_name} DROP CONSTRAINT "{name}"')
            step = time.monotonic()
            conn.execute(
                INSERT_ORDERS.format(columns=", ".join(ORDER_COLUMNS)),
                {
                    "account": account_id,
                    "token_ins": [pair[0] for pair in PAIRS],
                    "token_outs": [pair[1] for pair in PAIRS],
                    "pair_count": len(PAIRS),
                    "start": start,
                    "step": (now - start).total_seconds() / orders,
                    "orders": orders,
                },
            )
            timings["orders"] = time.monotonic() - step
            step = time.monotonic()
            events = conn.execute(INSERT_EVENTS.format(values=values), {"account": account_id}).rowcount
            timings["events_seconds"] = time.monotonic() - step
            step = time.monotonic()
            for _, definition in indexes:
                conn.execute(definition)
            for table_name, name, definition in uniques:
                conn.execute(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}')
            timings["indexes"] = time.monotonic() - step
        step = time.monotonic()
        for table_name in tables:
            conn.execute(f"VACUUM ANALYZE {table_name}")
        timings["vacuum_analyze"] = time.monotonic() - step
        samples = [
            row[0]
            for row in conn.execute(
                "SELECT id::text FROM orders_order WHERE account_id = %s ORDER BY random() LIMIT 1000", [account_id]
            )
        ]
    timings["events"] = events
    timings["total"] = time.monotonic() - began
    return samples, timings


def _time(client: httpx.Client, paths: list[str]) -> list[float]:
    seconds = []
    for path in paths:
        began = time.perf_counter()
        response = client.get(path)
        seconds.append(time.perf_counter() - began)
        response.raise_for_status()
    return seconds


def _placing(client: httpx.Client, count: int) -> list[float]:
    """`count` orders placed one after another: each POST counts the account's open orders among its history."""
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        response = client.post("/api/orders/execute", json={"tokenIn": "SOL", "tokenOut": "USDC", "amount": "10"})
        seconds.append(time.perf_counter() - began)
        response.raise_for_status()
    return seconds


def _following(client: httpx.Client, first: str, pages: int) -> list[float]:
    """Pages 2, 3, ... of the list, each by the previous page's `next` link."""
    seconds, url = [], client.get(first).raise_for_status().json()["next"]
    for _ in range(pages):
        began = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - began)
        url = response.raise_for_status().json()["next"]
        if not url:
            break
    return seconds


def queries(samples: list[str], now: datetime) -> dict[str, str]:
    day = (now - timedelta(days=30)).replace(microsecond=0)
    window = f"createdAfter={day.isoformat().replace('+00:00', 'Z')}&createdBefore=" + (
        (day + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    )
    return {
        "list, first page": "/api/orders/",
        "list, status=failed (4 %)": "/api/orders/?status=failed",
        "list, status=cancelled (1 %)": "/api/orders/?status=cancelled",
        "list, tokenIn=SOL&tokenOut=USDC": "/api/orders/?tokenIn=SOL&tokenOut=USDC",
        "list, a one-day createdAfter/createdBefore window": f"/api/orders/?{window}",
        "detail of a random order": f"/api/orders/{samples[0]}/",
    }


def capture_sql(engine: Engine, paths: list[str]) -> list[dict]:
    """The SQL Django runs for each path, from a Django process of its own with the engine's settings."""
    env = dict(engine.stack.env, DJANGO_SETTINGS_MODULE="engine.settings")
    result = subprocess.run(
        [sys.executable, "-m", "bench.capture_sql", engine.token, *paths],
        env=env,
        cwd=os.getcwd(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def explain(engine: Engine, captured: list[dict]) -> dict[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement on the orders tables, per path; the count a new order
    runs both as planned for its account and as planned once for any account (prepared, generic)."""
    plans = {}
    with psycopg.connect(engine.database_url, autocommit=True) as conn:
        account_id = conn.execute("SELECT user_id FROM authtoken_token WHERE key = %s", [engine.token]).fetchone()[0]
        for item in captured:
            plans[item["path"]] = []
            if item["path"] == COUNT_OPEN:
                (sql,) = item["queries"]
                conn.execute(f"PREPARE count_open (bigint) AS {sql.replace('%s', '$1')}")
                for mode in ("force_custom_plan", "force_generic_plan"):
                    conn.execute(f"SET plan_cache_mode = {mode}")
                    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE count_open ({int(account_id)})").fetchall()
                    plan = "\n".join(row[0] for row in rows)
                    plans[item["path"]].append(f"{sql}\n\n-- plan_cache_mode = {mode}\n{plan}")
                continue
            for sql in item["queries"]:
                if "orders_order" not in sql or not sql.lstrip().upper().startswith("SELECT"):
                    continue
                rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall()
                plans[item["path"]].append(sql + "\n\n" + "\n".join(row[0] for row in rows))
    return plans


def run_history(args) -> Section:
    orders, requests = args.history_orders, args.history_requests
    print(
        f"History: {orders} orders bulk-loaded into an engine of its own, then {requests} requests a query", flush=True
    )
    rng = random.Random(7)
    with own_engine(latency_scale=0, concurrency=1) as engine:
        samples, load = bulk_load(engine, orders)
        print(f"  loaded {orders} orders and {load['events']} events in {load['total']:.0f} s", flush=True)
        paths = queries(samples, datetime.now(UTC))
        results = {}
        headers = {"Authorization": f"Token {engine.token}"}
        with httpx.Client(base_url=engine.url, headers=headers, timeout=30) as client:
            for name, path in paths.items():
                if name.startswith("detail"):
                    chosen = [f"/api/orders/{rng.choice(samples)}/" for _ in range(requests + 10)]
                else:
                    chosen = [path] * (requests + 10)
                _time(client, chosen[:10])  # warm: connections, caches
                results[name] = _time(client, chosen[10:])
            results["list, following next (pages 2 and on)"] = _following(client, paths["list, first page"], requests)
            _placing(client, 10)
            results[PLACING] = _placing(client, requests)
        captured = capture_sql(
            engine, [paths["list, first page"], paths["list, status=failed (4 %)"], paths["detail of a random order"]]
        )
        plans = explain(engine, captured)
    rows = []
    for name, seconds in results.items():
        p99 = percentile(seconds, 99)
        if name == PLACING:
            rows.append((f"{name} p50 / p99 / max", spread(seconds, unit="ms", scale=1000), "", None))
            continue
        rows.append(
            (
                f"`{name}` p50 / p99 / max",
                spread(seconds, unit="ms", scale=1000),
                f"p99 <= {P99 * 1000:.0f} ms",
                p99 <= P99,
            )
        )
    lines = [
        f"## History: {orders:,} orders in the table",
        "",
        f"One account's {orders:,} orders (95 % confirmed with 5 events, 4 % failed with 3, 1 % cancelled with 2; "
        f"{load['events']:,} events), created over {DAYS} days, generated inside PostgreSQL in an engine of its "
        "own: `INSERT ... SELECT` over `generate_series`, with the secondary indexes dropped and built again after "
        f"(orders in {load['orders']:.1f} s, events in {load['events_seconds']:.1f} s, indexes in "
        f"{load['indexes']:.1f} s, VACUUM ANALYZE {load['vacuum_analyze']:.1f} s). Then {requests} sequential "
        "requests per query on one keep-alive connection, after 10 untimed ones; pages of 50, the default. Last, "
        f"the same account places {requests} orders one after another (after 10 untimed), which the worker "
        "executes meanwhile (venues instant).",
        "",
        table(rows),
        "",
        "The SQL Django runs (captured with `CaptureQueriesContext` in a Django process with the engine's settings) "
        "and its plans on the loaded tables:",
    ]
    for path, explained in plans.items():
        title = "placing an order: the count of the account's open orders" if path == COUNT_OPEN else f"GET {path}"
        lines += ["", f"<details><summary><code>{title}</code></summary>", ""]
        for text in explained:
            lines += ["```", text, "```", ""]
        lines.append("</details>")
    raw = {"load": load, "latencies": results, "paths": paths, "captured": captured, "plans": plans}
    return Section("history", "\n".join(lines), raw=raw)
