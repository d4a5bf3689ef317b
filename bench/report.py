"""Turns per-order timings into figures, and figures into the Markdown of BENCHMARKS.md."""

import math
from collections import Counter
from dataclasses import dataclass, field
from statistics import mean

from bench.load import OrderTiming

QUOTE_SECONDS = 0.2  # both venues are asked at once, so one quote's time
SWAP_SECONDS = 2.5  # the middle of the seed's 2-3 s
DERIVED = (
    "latency",
    "post",
    "queue_wait",
    "execution",
    "swap",
    "delivery",
    "venue",
    "overhead",
    "engine_overhead",
    "worker_own",
)


@dataclass
class Section:
    """One scenario's part of BENCHMARKS.md and of the raw JSON."""

    name: str
    markdown: str
    raw: dict = field(default_factory=dict)
    # Files written beside the report (plots), relative to it.
    files: list[str] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def spread(values: list[float], *, unit: str = "s", scale: float = 1.0, maximum: bool = True) -> str:
    """`p50 / p99 [/ max] unit`, or n/a."""
    if not values:
        return "n/a"
    points = [percentile(values, 50), percentile(values, 99)] + ([max(values)] if maximum else [])
    places = 2 if unit == "s" else (1 if unit == "ms" and max(points) * scale < 10 else 0)
    return " / ".join(f"{value * scale:.{places}f}" for value in points) + f" {unit}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def table(rows: list[tuple[str, str, str, bool | None] | tuple[str, str]]) -> str:
    """Rows of (figure, value) or (figure, value, target, met): a target column only when one is given."""
    with_targets = any(len(row) == 4 for row in rows)
    if not with_targets:
        lines = ["| figure | value |", "| --- | --- |"]
        return "\n".join(lines + [f"| {row[0]} | {row[1]} |" for row in rows])
    lines = ["| figure | value | target | met |", "| --- | --- | --- | --- |"]
    for row in rows:
        name, value, target, ok = (*row, "", None) if len(row) == 2 else row
        lines.append(f"| {name} | {value} | {target} | {verdict(ok) if target else ''} |")
    return "\n".join(lines)


def order_figures(timing: OrderTiming, *, latency_scale: float) -> dict | None:
    """The derived times of a confirmed order, or None when something needed is missing."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for event in timing.events:
        first.setdefault(event["status"], event["timestamp"])
        last[event["status"]] = event["timestamp"]
    needed = ("pending", "routing", "submitted", "confirmed")
    if timing.status != "confirmed" or timing.posted_at is None or any(status not in first for status in needed):
        return None
    recorded = [event["venue_ms"] for event in timing.events if event.get("venue_ms") is not None]
    quote = QUOTE_SECONDS * latency_scale
    latency = timing.terminal_at - timing.posted_at
    swap = last["confirmed"] - last["submitted"]
    # Timed by the worker itself when it records venueMs; otherwise estimated: the configured quote
    # time, and the swap as the span between the events either side of it, which also holds the
    # `confirmed` transaction's lock wait.
    venue = sum(recorded) / 1000 if recorded else quote + swap
    # The worker's start is not an event: it is the first routing event less the quote time, timed
    # when the routing event records it.
    routing_ms = next((e["venue_ms"] for e in timing.events if e["status"] == "routing" and e.get("venue_ms")), None)
    worker_start = first["routing"] - (routing_ms / 1000 if routing_ms is not None else quote)
    return {
        "latency": latency,
        "post": timing.accepted_at - timing.posted_at,
        "queue_wait": worker_start - first["pending"],
        "execution": last["confirmed"] - worker_start,
        "swap": swap,
        "delivery": timing.terminal_at - last["confirmed"],
        "venue": venue,
        "overhead": latency - venue,
        # As the engine itself records an order: from its stored `pending` event to its terminal one.
        "engine_overhead": last["confirmed"] - first["pending"] - venue,
        # The worker's own time around its venue calls: counting the attempt and the moves between the calls.
        "worker_own": last["confirmed"] - worker_start - venue,
        "venue_recorded": bool(recorded),
    }


def summarize(timings: list[OrderTiming], *, latency_scale: float, concurrency: int) -> dict:
    posted = [timing.posted_at for timing in timings if timing.posted_at is not None]
    ended = sorted(timing.terminal_at for timing in timings if timing.status == "confirmed")
    confirmed = len(ended)
    failed = sum(1 for timing in timings if timing.status == "failed")
    wall = max(ended) - min(posted) if ended and posted else 0.0
    configured_venue = latency_scale * (QUOTE_SECONDS + SWAP_SECONDS)
    figures = [order_figures(timing, latency_scale=latency_scale) for timing in timings]
    figures = [item for item in figures if item is not None]
    # Steady state: how fast orders finish once they do, free of the first order's latency.
    span = ended[-1] - ended[0] if len(ended) > 1 else 0.0
    return {
        "placed": sum(1 for timing in timings if timing.order_id),
        "confirmed": confirmed,
        "failed": failed,
        "unfinished": len(timings) - confirmed - failed,
        "wall": wall,
        "throughput": confirmed / wall * 60 if wall else 0.0,
        "completion_rate": (confirmed - 1) / span * 60 if span else 0.0,
        "configured_venue": configured_venue,
        "measured_venue": mean(item["venue"] for item in figures) if figures else None,
        "venue_recorded": bool(figures) and all(item["venue_recorded"] for item in figures),
        "bound": concurrency / configured_venue * 60 if configured_venue else None,
        "measured": len(figures),
        **{name: [item[name] for item in figures] for name in DERIVED},
    }


def venue_note(summary: dict) -> str:
    if summary["venue_recorded"]:
        return "venue time per order: the sum of the `venueMs` the worker recorded on the order's events"
    return (
        "venue time per order is **estimated**: the engine does not record it, so it is taken as the configured "
        "quote time (0.2 s x latency scale) plus the span from the `submitted` to the `confirmed` event"
    )


def error_note(timings: list[OrderTiming], *, top: int = 3) -> str:
    """The commonest client-side errors, for a reader wondering why orders did not finish."""
    errors = Counter(timing.error for timing in timings if timing.error)
    if not errors:
        return ""
    listed = "; ".join(f"{count} x `{error[:200]}`" for error, count in errors.most_common(top))
    return f"Client-side errors ({sum(errors.values())} orders): {listed}."


def cpu_ms(before: Counter, after: Counter, count: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (order, request) by part, from two cpu_seconds() readings."""
    return {part: (used - before[part]) * 1000 / count for part, used in after.items()}


def cpu_row(
    cpu: dict[str, float], *, per: str = "order", client: str = "the benchmark itself", digits: int = 1
) -> tuple[str, str]:
    parts = sorted(cpu.items(), key=lambda item: -item[1])
    return (
        f"CPU per {per}, by process (ms; the client is {client})",
        f"{sum(cpu.values()):.{digits}f}: " + ", ".join(f"{part} {ms:.{digits}f}" for part, ms in parts),
    )
