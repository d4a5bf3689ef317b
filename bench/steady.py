"""Steady load at the seed's venue latencies, and the burst that saturates the workers."""

import asyncio
from dataclasses import asdict
from pathlib import Path

from bench import celery_floor
from bench.engine import engine_or_url
from bench.load import OrderTiming, run_scenario, warm_up
from bench.plot import steady_plot
from bench.report import Section, error_note, order_figures, percentile, spread, summarize, table, venue_note

THROUGHPUT_SHARE = 0.97
OVERHEAD_P99 = 0.025
LATENCY_P99 = 3.3  # at 100 orders a minute
LATENCY_RATE = 100


def _raw(timings: list[OrderTiming], latency_scale: float) -> list[dict]:
    return [{**asdict(timing), "derived": order_figures(timing, latency_scale=latency_scale)} for timing in timings]


def _rate_section(rate: float, duration: float, summary: dict, timings: list[OrderTiming]) -> str:
    bound = summary["bound"]
    # Below the workers' capacity an engine can finish no more than it is given.
    expected = min(rate, bound) if bound else rate
    throughput = summary["completion_rate"]
    overhead_p99 = percentile(summary["engine_overhead"], 99) if summary["engine_overhead"] else None
    latency_p99 = percentile(summary["latency"], 99) if summary["latency"] else None
    measured_venue = summary["measured_venue"]
    rows = [
        ("orders placed", f"{summary['placed']} over {duration:g} s"),
        (
            "confirmed / failed / no terminal event",
            f"{summary['confirmed']} / {summary['failed']} / {summary['unfinished']}",
        ),
        (
            "throughput (confirmed orders finishing per minute)",
            f"{throughput:.1f}/min ({throughput / expected:.1%} of the bound)",
            f">= {THROUGHPUT_SHARE:.0%} of the bound",
            throughput >= THROUGHPUT_SHARE * expected,
        ),
        (
            "bound: the lesser of the offered rate and concurrency / mean venue time",
            f"{expected:.1f}/min (capacity {bound:.1f}/min)" if bound else f"{expected:.1f}/min",
        ),
        (
            "mean venue time per order: configured / per order",
            f"{summary['configured_venue']:.2f} s / "
            + (f"{measured_venue:.3f} s" if measured_venue is not None else "n/a"),
        ),
    ]
    if rate == LATENCY_RATE:
        rows.append(
            (
                "end-to-end latency p50 / p99 / max",
                spread(summary["latency"]),
                f"p99 < {LATENCY_P99:g} s",
                latency_p99 is not None and latency_p99 < LATENCY_P99,
            )
        )
    else:
        rows.append(("end-to-end latency p50 / p99 / max", spread(summary["latency"])))
    rows += [
        (
            "engine overhead as the engine records it (terminal event - `pending` event - venue time) p50 / p99 / max",
            spread(summary["engine_overhead"], unit="ms", scale=1000),
            f"p99 <= {OVERHEAD_P99 * 1000:.0f} ms",
            overhead_p99 is not None and overhead_p99 <= OVERHEAD_P99,
        ),
        (
            "of it: queue wait, `pending` event to the worker's start (the rest of the POST's transaction, the Celery "
            "message to a pool process, a wait for a free one) p50 / p99 / max",
            spread(summary["queue_wait"], unit="ms", scale=1000),
        ),
        (
            "of it: the worker's own time around the venue calls (the route search, routing to submitted in one "
            "statement, confirmed) p50 / p99 / max",
            spread(summary["worker_own"], unit="ms", scale=1000),
        ),
        (
            "engine overhead as the client sees it (end-to-end - venue time) p50 / p99 / max",
            spread(summary["overhead"], unit="ms", scale=1000),
        ),
        ("of it: POST round trip p50 / p99 / max", spread(summary["post"], unit="ms", scale=1000)),
        (
            "of it: stream delivery of the terminal event p50 / p99 / max",
            spread(summary["delivery"], unit="ms", scale=1000),
        ),
    ]
    lines = [f"### {rate:g} orders a minute", "", table(rows)]
    if summary["measured"] < summary["confirmed"]:
        lines += ["", f"Derived times cover {summary['measured']} of the {summary['confirmed']} confirmed orders."]
    if error_note(timings):
        lines += ["", error_note(timings)]
    return "\n".join(lines)


def run_steady(args, report_dir: Path) -> Section:
    rates, duration = args.rate, args.duration
    results: dict[float, list[OrderTiming]] = {}
    print(f"Steady: {', '.join(f'{rate:g}' for rate in rates)} orders a minute, {duration:g} s each", flush=True)
    with engine_or_url(args.url, args.token, latency_scale=args.latency_scale, concurrency=args.concurrency) as (
        url,
        token,
    ):
        warm_up(url, token=token, orders=2 * args.concurrency, time_limit=args.time_limit)
        for rate in rates:
            orders = max(2, round(rate * duration / 60))
            print(f"  {orders} orders at {rate:g} a minute", flush=True)
            results[rate] = asyncio.run(
                run_scenario(
                    url,
                    token=token,
                    name=f"steady {rate:g}/min",
                    orders=orders,
                    interval=60 / rate,
                    time_limit=args.time_limit,
                )
            )
    print("  the Celery hop alone", flush=True)
    hop = celery_floor.measure(concurrency=args.concurrency)
    summaries = {
        rate: summarize(timings, latency_scale=args.latency_scale, concurrency=args.concurrency)
        for rate, timings in results.items()
    }
    plot = "benchmarks-steady.png"
    steady_plot(results, summaries, report_dir / plot)
    first = next(iter(summaries.values()))
    lines = [
        "## Steady load at the seed's venue latencies",
        "",
        f"Worker concurrency {args.concurrency}, DEX latency scale {args.latency_scale:g}; each rate runs for "
        f"{duration:g} s after a warm-up of {2 * args.concurrency} orders. Every order is followed on "
        "`/ws/orders/<id>/` from right after its POST returned; its events are read afterwards from "
        f"`GET /api/orders/<id>/`. The {venue_note(first)}.",
        "",
        *[_rate_section(rate, duration, summary, results[rate]) + "\n" for rate, summary in summaries.items()],
        f"![End-to-end latency and throughput over time]({plot})",
        "",
        "### The Celery hop alone",
        "",
        "The queue wait holds Celery's own hop from the web to a worker's pool process. Measured without the "
        f"engine, once the engine has stopped: a no-op task, {hop['tasks']} of them 30 ms apart, on a Celery app "
        "and Redis of their own set up as the engine's (JSON, late acknowledgement, prefetch 1, a prefork pool "
        f"of {args.concurrency}, task events for Flower and the sent event; `bench/celery_floor.py`). The task "
        "notes its start; nothing else runs in it.",
        "",
        table(celery_floor.floor_rows(hop)),
        "",
        "- throughput = (confirmed orders - 1) / (last terminal event - first terminal event) x 60: how fast "
        "orders finish in the steady state, without the first order's own latency in the span",
        "- bound = min(offered rate, concurrency x 60 / configured mean venue time); an engine cannot finish more "
        "than it is given, nor more than its worker slots can take through the venues",
        "- end-to-end latency = terminal event received over the WebSocket - POST sent",
        "- engine overhead as the engine records it = the order's terminal event - its `pending` event - venue "
        "time, all three recorded by the engine: the issue defines the overhead from what the worker records. It "
        "holds the wait in the queue (also for a free worker slot) and the database moves between the venue calls",
        "- engine overhead as the client sees it = end-to-end latency - venue time: the same, plus the POST up to "
        "the stored `pending` event and the delivery of the terminal event over the WebSocket",
        "- queue wait = first `routing` event - 0.2 s x latency scale - `pending` event (the quotes' time, as "
        "the worker records it in the routing event's `venueMs`, when it does)",
        "- the worker's own time = `confirmed` event - the worker's start - venue time",
        "- stream delivery = terminal event received - `confirmed` event's timestamp",
    ]
    raw = {str(rate): _raw(timings, args.latency_scale) for rate, timings in results.items()}
    raw["unfinished"] = sum(summary["unfinished"] for summary in summaries.values())
    raw["celery_hop"] = hop
    return Section("steady", "\n".join(lines), raw=raw, files=[plot])


def run_burst(args, report_dir: Path) -> Section:
    """All orders at once at the seed's latencies: how close the workers come to their bound."""
    print(f"Burst: {args.orders} orders at once", flush=True)
    with engine_or_url(args.url, args.token, latency_scale=args.latency_scale, concurrency=args.concurrency) as (
        url,
        token,
    ):
        warm_up(url, token=token, orders=2 * args.concurrency, time_limit=args.time_limit)
        timings = asyncio.run(
            run_scenario(url, token=token, name="burst", orders=args.orders, interval=0, time_limit=args.time_limit)
        )
    summary = summarize(timings, latency_scale=args.latency_scale, concurrency=args.concurrency)
    bound = summary["bound"]
    rows = [
        ("orders placed at once", str(summary["placed"])),
        (
            "confirmed / failed / no terminal event",
            f"{summary['confirmed']} / {summary['failed']} / {summary['unfinished']}",
        ),
        ("wall time, first POST to last terminal event", f"{summary['wall']:.1f} s"),
        (
            "throughput, confirmed / wall time",
            f"{summary['throughput']:.1f}/min"
            + (f" ({summary['throughput'] / bound:.1%} of the bound)" if bound else ""),
            f">= {THROUGHPUT_SHARE:.0%} of the bound",
            bool(bound) and summary["throughput"] >= THROUGHPUT_SHARE * bound,
        ),
        ("bound: concurrency x 60 / configured mean venue time", f"{bound:.1f}/min" if bound else "n/a"),
        ("end-to-end latency p50 / p99 / max", spread(summary["latency"])),
        ("queue wait p50 / p99 / max", spread(summary["queue_wait"])),
        (
            "engine overhead less queue wait p50 / p99",
            spread(
                [o - q for o, q in zip(summary["overhead"], summary["queue_wait"], strict=True)],
                unit="ms",
                scale=1000,
                maximum=False,
            ),
        ),
    ]
    markdown = "\n".join(
        [
            f"## Burst: {args.orders} orders at once",
            "",
            f"Worker concurrency {args.concurrency}, DEX latency scale {args.latency_scale:g}. "
            f"The {venue_note(summary)}.",
            "",
            table(rows),
            "",
            error_note(timings),
        ]
    )
    raw = {"orders": _raw(timings, args.latency_scale), "unfinished": summary["unfinished"]}
    return Section("burst", markdown, raw=raw)
