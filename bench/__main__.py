"""`python -m bench`: time a burst of orders and a steady stream of them, and write BENCHMARKS.md."""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import signal
import sys
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench.engine import own_engine
from bench.load import ORDER, TERMINAL, run_scenario
from bench.report import order_figures, render, scenario_section, summarize

RESULTS = Path(__file__).resolve().parent.parent / "bench-results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=200, help="orders per scenario (default 200)")
    parser.add_argument("--rate", type=float, default=100, help="orders per minute in the steady scenario")
    parser.add_argument("--latency-scale", type=float, default=1.0, help="DEX_LATENCY_SCALE of the engine")
    parser.add_argument("--concurrency", type=int, default=10, help="worker concurrency of the engine")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"), help="Markdown report to write")
    parser.add_argument("--url", help="use the engine already running at this URL instead of starting one")
    parser.add_argument(
        "--token", default=os.environ.get("ENGINE_TOKEN", ""), help="API token for --url (default: $ENGINE_TOKEN)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=300,
        help="seconds an order may take once the last one is placed before it counts as unfinished",
    )
    args = parser.parse_args(argv)
    if args.url and not args.token:
        parser.error("--url needs the API token of an account: --token or $ENGINE_TOKEN")
    if args.orders < 1 or args.rate <= 0 or args.concurrency < 1 or args.latency_scale < 0 or args.time_limit <= 0:
        parser.error("--orders, --rate, --concurrency and --time-limit must be positive, --latency-scale not negative")
    return args


def engine_url(args: argparse.Namespace) -> contextlib.AbstractContextManager[tuple[str, str]]:
    if args.url:
        return contextlib.nullcontext((args.url.rstrip("/"), args.token))
    return own_engine(latency_scale=args.latency_scale, concurrency=args.concurrency)


def header(args: argparse.Namespace, started: datetime) -> list[str]:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    if args.url:
        engine = f"the engine at {args.url}, taken to run with"
    else:
        engine = "an engine of the benchmark's own on 127.0.0.1 with PostgreSQL and Redis,"
    return [
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs (nproc), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; the client runs on the same CPUs as the engine",
        f"- command: `{shlex.join([python, '-m', 'bench', *sys.argv[1:]])}`",
        f"- engine: {engine} worker concurrency {args.concurrency} and DEX latency scale {args.latency_scale:g}",
        f"- each order: `{json.dumps(ORDER)}`, followed on `/ws/orders/<id>/` from right after its POST returned",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the engine the benchmark started is always stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = datetime.now(UTC)
    scenarios = [
        ("burst", f"Burst: {args.orders} orders at once", 0.0),
        ("steady", f"Steady: {args.orders} orders at {args.rate:g} a minute", 60 / args.rate),
    ]
    results = {}
    with engine_url(args) as (url, token):
        # A worker process's first order also pays for its connections and imports (seconds, not
        # milliseconds), so every process serves one order before anything is timed.
        print(f"Warm-up: {2 * args.concurrency} orders at once, not counted", flush=True)
        warm_up = asyncio.run(
            run_scenario(
                url, token=token, name="warm-up", orders=2 * args.concurrency, interval=0, time_limit=args.time_limit
            )
        )
        for name, title, interval in scenarios:
            print(f"{title} against {url}", flush=True)
            timings = asyncio.run(
                run_scenario(
                    url, token=token, name=name, orders=args.orders, interval=interval, time_limit=args.time_limit
                )
            )
            results[name] = (title, timings)

    sections = []
    raw = {"started": started.isoformat(), "command": sys.argv, "options": {**vars(args), "output": str(args.output)}}
    for name, (title, timings) in results.items():
        summary = summarize(timings, latency_scale=args.latency_scale, concurrency=args.concurrency)
        section = scenario_section(title, summary, show_share=name == "burst")
        print(f"\n{section}", flush=True)
        sections.append(section)
        raw[name] = [
            {**asdict(timing), "derived": order_figures(timing, latency_scale=args.latency_scale)} for timing in timings
        ]

    warm = summarize(warm_up, latency_scale=args.latency_scale, concurrency=args.concurrency)
    lines = [
        *header(args, started),
        f"- warm-up before the scenarios, not counted: {len(warm_up)} orders at once, "
        f"{warm['confirmed']} confirmed in {warm['wall']:.1f} s",
    ]
    args.output.write_text(render(header=lines, sections=sections) + "\n")
    RESULTS.mkdir(exist_ok=True)
    raw_path = RESULTS / f"{started:%Y%m%d-%H%M%S}.json"
    raw_path.write_text(json.dumps(raw, indent=1))
    print(f"\nwrote {args.output} and {raw_path}")
    errors = Counter(timing.error for _, timings in results.values() for timing in timings if timing.error)
    for error, count in errors.most_common(3):
        print(f"{count} orders: {error}")
    # Orders left without a terminal event mean the engine is not working, whatever the figures say.
    return 1 if any(timing.status not in TERMINAL for _, timings in results.values() for timing in timings) else 0


if __name__ == "__main__":
    sys.exit(main())
