"""`python -m bench [scenario ...]`: measure the engine and write BENCHMARKS.md and bench-results/.

Scenarios (all but burst by default, in this order): steady, capacity, api, subscribers, history, burst.
"""

import argparse
import json
import os
import platform
import resource
import shlex
import signal
import sys
import time
import timeit
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Section

RESULTS = Path(__file__).resolve().parent.parent / "bench-results"
SCENARIOS = ("steady", "capacity", "api", "subscribers", "history", "burst")
DEFAULT = ("steady", "capacity", "api", "subscribers", "history")
# Scenarios that need an engine of their own: they set its latency scale, read its processes and servers.
OWN_ENGINE = ("capacity", "api", "subscribers", "history")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="scenario", help=f"any of {', '.join(SCENARIOS)} (default: all but burst)"
    )
    parser.add_argument("--rate", type=float, nargs="+", default=[100, 200], help="steady orders per minute")
    parser.add_argument("--duration", type=float, default=90, help="seconds of steady load at each rate")
    parser.add_argument("--orders", type=int, default=200, help="orders of the burst scenario")
    parser.add_argument("--latency-scale", type=float, default=1.0, help="DEX_LATENCY_SCALE of steady and burst")
    parser.add_argument("--concurrency", type=int, default=10, help="worker concurrency of the engine")
    parser.add_argument("--capacity-orders", type=int, default=1000, help="orders per capacity run")
    parser.add_argument("--capacity-workers", type=int, nargs="+", default=[1, 2], help="worker processes")
    parser.add_argument("--api-seconds", type=float, default=10, help="seconds of each wrk run")
    parser.add_argument("--api-connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--subscribers", type=int, default=1000, help="WebSocket subscribers")
    parser.add_argument("--subscribed-orders", type=int, default=100, help="orders the subscribers share")
    parser.add_argument("--history-orders", type=int, default=1_000_000, help="orders bulk-loaded for history")
    parser.add_argument("--history-requests", type=int, default=200, help="timed requests per history query")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile and statement count of capacity")
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"), help="Markdown report to write")
    parser.add_argument("--url", help="steady and burst only: use the engine already running at this URL")
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
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = [name for name in SCENARIOS if name in (args.scenarios or DEFAULT)]
    if args.url and not args.token:
        parser.error("--url needs the API token of an account: --token or $ENGINE_TOKEN")
    if args.url and any(name in OWN_ENGINE for name in args.scenarios):
        parser.error(f"--url serves steady and burst only; {', '.join(OWN_ENGINE)} start an engine of their own")
    numbers = (
        args.orders,
        args.concurrency,
        args.capacity_orders,
        args.subscribers,
        args.subscribed_orders,
        args.history_orders,
        args.history_requests,
        args.api_connections,
    )
    if min(numbers) < 1 or min(args.rate) <= 0 or args.duration <= 0 or args.latency_scale < 0 or args.time_limit <= 0:
        parser.error("counts, rates, durations and --time-limit must be positive, --latency-scale not negative")
    return args


def python_speed() -> float:
    """Microseconds this machine takes for `sum(range(10_000))`, the best of five timeit runs.

    Machines of the same kind differ: the same code measured up to 2x apart on one day. This figure puts
    a run's other figures in proportion to the CPU it had."""
    timer = timeit.Timer("sum(range(10_000))")
    loops, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=loops)) / loops * 1e6


def header(args: argparse.Namespace, started: datetime, speeds: dict[str, float]) -> list[str]:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable
    return [
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs (nproc), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; the clients (Python, wrk) run on the same CPUs as the engine",
        "- CPU speed: `sum(range(10_000))` takes "
        + ", ".join(f"{speed:.0f} µs before {name}" for name, speed in speeds.items())
        + " (timeit, best of 5); the same code's figures move with it from one machine, day or hour to the next",
        f"- command: `{shlex.join([python, '-m', 'bench', *sys.argv[1:]])}`",
        "- each scenario starts an engine of its own on 127.0.0.1 (daphne, one process per CPU unless said "
        "otherwise, Celery worker and beat, Flower, PostgreSQL, a Redis for the broker, cache and venue ledger, "
        "and a Redis for the channel layer alone), "
        "unless `--url` is given",
    ]


def targets(sections: list[Section]) -> str:
    """Every figure that has a target, gathered from the sections' tables under the heading it sits in."""
    rows = []
    for section in sections:
        heading = section.name
        for line in section.markdown.splitlines():
            if line.startswith("### "):
                heading = f"{section.name}, {line.removeprefix('### ')}"
            elif line.startswith("|") and ("**met**" in line or "**not met**" in line):
                rows.append(f"| {heading} {line}")
    if not rows:
        return ""
    return "\n".join(
        ["## Targets", "", "| where | figure | value | target | met |", "| --- | --- | --- | --- | --- |", *rows]
    )


def _raise_open_files() -> None:
    """A thousand WebSockets need more descriptors than the usual 1024; the engine started here inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(name: str, args: argparse.Namespace, report_dir: Path) -> Section:
    # Imported when chosen: a scenario's tools (wrk, matplotlib, py-spy) are needed only when it runs.
    if name in ("steady", "burst"):
        from bench.steady import run_burst, run_steady

        return (run_steady if name == "steady" else run_burst)(args, report_dir)
    if name == "capacity":
        from bench.capacity import run_capacity

        return run_capacity(args, RESULTS)
    if name == "api":
        from bench.api import run_api

        return run_api(args)
    if name == "subscribers":
        from bench.subscribers import run_subscribers

        return run_subscribers(args)
    from bench.history import run_history

    return run_history(args)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every engine the benchmark started is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    _raise_open_files()
    started = datetime.now(UTC)
    speeds: dict[str, float] = {}
    RESULTS.mkdir(exist_ok=True)
    raw_path = RESULTS / f"{started:%Y%m%d-%H%M%S}-{'-'.join(args.scenarios)}.json"
    report_dir = args.output.resolve().parent
    report_dir.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []
    failures = []
    raw = {
        "started": started.isoformat(),
        "python_speed_us": speeds,
        "command": sys.argv,
        "options": {**vars(args), "output": str(args.output)},
    }
    for name in args.scenarios:
        # Measured before each scenario: the same machine's speed has moved by half within an hour.
        speeds[name] = python_speed()
        began = time.monotonic()
        try:
            section = run(name, args, report_dir)
        except Exception as exc:  # one scenario's trouble is reported, the others still run
            print(f"{name} failed: {type(exc).__name__}: {exc}", flush=True)
            failures.append(name)
            section = Section(name, f"## {name}\n\nThe scenario did not finish: `{type(exc).__name__}: {exc}`.")
        seconds = time.monotonic() - began
        section.raw["seconds"] = seconds
        print(f"\n{section.markdown}\n\n({name}: {seconds:.0f} s)\n", flush=True)
        sections.append(section)
        raw[name] = section.raw
        # Written after every scenario, so a run cut short keeps what it measured.
        body = [
            "# Benchmarks",
            "\n".join(header(args, started, speeds)),
            targets(sections),
            *(section.markdown for section in sections),
        ]
        args.output.write_text("\n\n".join(part for part in body if part) + "\n")
        raw_path.write_text(json.dumps(raw, indent=1, default=str))
    print(f"wrote {args.output} and {raw_path}")
    # Orders left without a terminal event mean the engine is not working, whatever the figures say.
    unfinished = sum(section.raw.get("unfinished", 0) for section in sections)
    if unfinished:
        print(f"{unfinished} orders got no terminal event")
    return 1 if failures or unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
