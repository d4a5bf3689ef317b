"""`python -m chaos` (`make chaos`): orders placed while processes die and servers restart.

Prints, and writes to CHAOS.md, what became of every order: the simulated chain's record of
executed swaps is the ground truth for duplicates, PostgreSQL for lost and stuck orders, each
subscriber's own log of `seq` numbers for gaps.
"""

import argparse
import asyncio
import platform
import random
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from chaos.client import Client, Tracked
from chaos.stack import Stack
from dex.ledger import RedisLedger, swaps_for

FAULTS = [
    (0.12, "worker killed (SIGKILL)", lambda stack: _kill_and_restart(stack, "worker")),
    (0.25, "one worker pool process killed (SIGKILL)", lambda stack: stack.kill_pool_process()),
    (0.37, "Redis killed and restarted", lambda stack: stack.restart_redis()),
    (0.50, "worker killed (SIGKILL)", lambda stack: _kill_and_restart(stack, "worker")),
    (0.62, "PostgreSQL restarted", lambda stack: stack.restart_postgres()),
    (0.75, "daphne restarted", lambda stack: stack.restart("web")),
    (0.88, "worker killed (SIGKILL)", lambda stack: _kill_and_restart(stack, "worker")),
]


def _kill_and_restart(stack: Stack, name: str) -> None:
    stack.kill(name)
    stack.start_process(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="orders placed per second")
    parser.add_argument("--latency-scale", type=float, default=0.1)
    parser.add_argument("--lost-response-rate", type=float, default=0.1, help="swaps that land but go unanswered")
    parser.add_argument("--failure-rate", type=float, default=0.05, help="venue calls that fail transiently")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds allowed after the last order")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("CHAOS.md"))
    return parser.parse_args(argv)


async def _inject(stack: Stack, duration: float, rng: random.Random, log: list[tuple[float, str]]) -> None:
    start = time.time()
    for at, name, fault in FAULTS:
        moment = start + duration * (at + rng.uniform(-0.04, 0.04))
        await asyncio.sleep(max(0.0, moment - time.time()))
        log.append((time.time(), name))
        print(f"  fault at {time.time() - start:5.1f} s: {name}", flush=True)
        await asyncio.to_thread(fault, stack)


async def _load(client: Client, orders: list[Tracked], rate: float) -> None:
    async with asyncio.TaskGroup() as group:
        for index, order in enumerate(orders):
            group.create_task(client.place_and_follow(order))
            if index % 50 == 49:
                done = sum(1 for o in orders if o.status)
                print(f"  placed {index + 1}/{len(orders)}, finished {done}", flush=True)
            await asyncio.sleep(1 / rate)


async def run(args: argparse.Namespace, stack: Stack, token: str) -> tuple[list[Tracked], list[tuple[float, str]]]:
    duration = args.orders / args.rate
    orders = [Tracked() for _ in range(args.orders)]
    faults: list[tuple[float, str]] = []
    client = Client(stack.base_url, token, deadline=time.time() + duration + args.settle)
    try:
        faulting = _inject(stack, duration, random.Random(args.seed), faults)
        await asyncio.gather(_load(client, orders, args.rate), faulting)
    finally:
        await client.close()
    return orders, faults


def ground_truth(stack: Stack, orders: list[Tracked]) -> dict[str, int]:
    with psycopg.connect(stack.postgres.url.replace("postgres://", "postgresql://")) as conn:
        stored = dict(conn.execute("SELECT id::text, status FROM orders_order").fetchall())
    ledger = RedisLedger(stack.chain.url)
    placed = [order for order in orders if order.order_id]
    swaps = {order_id: len(swaps_for(ledger, order_id)) for order_id in stored}
    return {
        "orders placed (201 received)": len(placed),
        "orders never accepted": len(orders) - len(placed),
        "orders stored": len(stored),
        "confirmed": sum(1 for status in stored.values() if status == "confirmed"),
        "failed": sum(1 for status in stored.values() if status == "failed"),
        "lost (accepted, not stored)": sum(1 for order in placed if order.order_id not in stored),
        "stuck (stored, not finished)": sum(1 for s in stored.values() if s not in ("confirmed", "failed")),
        "duplicate swaps (orders with 2+)": sum(1 for count in swaps.values() if count > 1),
        "confirmed without a swap": sum(1 for i, s in stored.items() if s == "confirmed" and swaps[i] != 1),
        "failed with a swap": sum(1 for i, s in stored.items() if s == "failed" and swaps[i] > 0),
        "subscribers with gaps": sum(1 for order in placed if order.gaps),
        "subscribers without the terminal event": sum(1 for order in placed if not order.status),
        "stream reconnects": sum(order.reconnects for order in placed),
        "HTTP 500 answers": sum(order.http_statuses.count(500) for order in orders),
        "HTTP 503 answers (retried)": sum(order.http_statuses.count(503) for order in orders),
    }


def recovery_p99(orders: list[Tracked], faults: list[tuple[float, str]]) -> float:
    """p99 time to the terminal event of the orders that were in flight when a fault struck."""
    hit = sorted(
        order.terminal_at - order.posted_at
        for order in orders
        if order.terminal_at and any(order.posted_at <= at <= order.terminal_at for at, _ in faults)
    )
    return hit[min(len(hit) - 1, int(len(hit) * 0.99))] if hit else 0.0


MUST_BE_ZERO = (
    "lost (accepted, not stored)",
    "stuck (stored, not finished)",
    "duplicate swaps (orders with 2+)",
    "confirmed without a swap",
    "failed with a swap",
    "subscribers with gaps",
    "subscribers without the terminal event",
    "HTTP 500 answers",
)


def report(args: argparse.Namespace, figures: dict, faults: list, started: datetime) -> str:
    rows = "\n".join(f"| {name} | {value} |" for name, value in figures.items())
    injected = "\n".join(f"- {name}" for _, name in faults)
    return f"""# Chaos run

- date: {started:%Y-%m-%d %H:%M} UTC; {platform.system()} {platform.machine()}, Python {platform.python_version()}
- command: `{shlex.join(["python", "-m", "chaos", *sys.argv[1:]])}`
- {args.orders} orders at {args.rate:g}/s, venue latency scale {args.latency_scale:g}, {args.lost_response_rate:.0%}
  of swaps land unanswered, {args.failure_rate:.0%} of venue calls fail; recovery re-drives after 3 s

Faults, in order:
{injected}

| figure | value |
| --- | --- |
{rows}

Required: {", ".join(MUST_BE_ZERO)} all 0.
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    stack = Stack(
        latency_scale=args.latency_scale, lost_response_rate=args.lost_response_rate, failure_rate=args.failure_rate
    )
    print(f"chaos run: {args.orders} orders at {args.rate:g}/s; engine log in {stack.dir / 'engine.log'}", flush=True)
    try:
        token = stack.start()
        orders, faults = asyncio.run(run(args, stack, token))
        figures = ground_truth(stack, orders)
        figures["p99 time to finish, orders in flight at a fault (s)"] = round(recovery_p99(orders, faults), 2)
    finally:
        stack.stop()
    text = report(args, figures, faults, started)
    print(text)
    args.output.write_text(text)
    return 1 if any(figures[name] for name in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
