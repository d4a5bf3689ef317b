"""Turns per-order timings into the benchmark's figures and its Markdown report."""

import math
from statistics import mean

from bench.load import OrderTiming

QUOTE_SECONDS = 0.2  # both venues are asked at once, so one quote's time
SWAP_SECONDS = 2.5  # the middle of the seed's 2-3 s
DERIVED = ("latency", "post", "queue_wait", "execution", "swap", "delivery", "overhead")


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


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
    quote = QUOTE_SECONDS * latency_scale
    latency = timing.terminal_at - timing.posted_at
    # The worker's start is not an event: it is the first routing event less the quote time.
    worker_start = first["routing"] - quote
    queue_wait = worker_start - first["pending"]
    swap = last["confirmed"] - last["submitted"]
    return {
        "latency": latency,
        "post": timing.accepted_at - timing.posted_at,
        "queue_wait": queue_wait,
        "execution": last["confirmed"] - worker_start,
        "swap": swap,
        "delivery": timing.terminal_at - last["confirmed"],
        "overhead": latency - swap - quote - queue_wait,
    }


def summarize(timings: list[OrderTiming], *, latency_scale: float, concurrency: int) -> dict:
    posted = [timing.posted_at for timing in timings if timing.posted_at is not None]
    ended = [timing.terminal_at for timing in timings if timing.terminal_at is not None]
    confirmed = sum(1 for timing in timings if timing.status == "confirmed")
    failed = sum(1 for timing in timings if timing.status == "failed")
    wall = max(ended) - min(posted) if ended and posted else 0.0
    venue = latency_scale * (QUOTE_SECONDS + SWAP_SECONDS)
    figures = [order_figures(timing, latency_scale=latency_scale) for timing in timings]
    figures = [item for item in figures if item is not None]
    return {
        "placed": sum(1 for timing in timings if timing.order_id),
        "confirmed": confirmed,
        "failed": failed,
        "unfinished": len(timings) - confirmed - failed,
        "wall": wall,
        "throughput": confirmed / wall * 60 if wall else 0.0,
        "venue": venue,
        "bound": concurrency / venue * 60 if venue else None,
        "measured": len(figures),
        **{name: [item[name] for item in figures] for name in DERIVED},
    }


def _spread(values: list[float], *, unit: str = "s", scale: float = 1.0, maximum: bool = True) -> str:
    if not values:
        return "n/a"
    points = [percentile(values, 50), percentile(values, 99)] + ([max(values)] if maximum else [])
    places = 0 if unit == "ms" else 2
    return " / ".join(f"{value * scale:.{places}f}" for value in points) + f" {unit}"


def scenario_section(title: str, summary: dict, *, show_share: bool) -> str:
    bound = summary["bound"]
    if bound is None:
        bound_text = "n/a (latency scale 0)"
    else:
        bound_text = f"{bound:.1f} orders/min"
        if show_share:
            bound_text += f"; the throughput is {summary['throughput'] / bound:.0%} of it"
    outcomes = f"{summary['confirmed']} / {summary['failed']} / {summary['unfinished']}"
    rows = [
        ("orders placed", str(summary["placed"])),
        ("confirmed / failed / no terminal event", outcomes),
        ("wall time, first POST to last terminal event", f"{summary['wall']:.1f} s"),
        ("throughput", f"{summary['throughput']:.1f} confirmed orders/min"),
        ("mean venue time per order (configured)", f"{summary['venue']:.2f} s"),
        ("theoretical bound, concurrency / mean venue time", bound_text),
        ("end-to-end latency p50 / p99 / max", _spread(summary["latency"])),
        ("POST round trip p50 / p99 / max", _spread(summary["post"], unit="ms", scale=1000)),
        ("queue wait p50 / p99 / max", _spread(summary["queue_wait"])),
        ("execution time p50 / p99", _spread(summary["execution"], maximum=False)),
        ("swap time (submitted to confirmed) mean", f"{mean(summary['swap']):.2f} s" if summary["swap"] else "n/a"),
        ("stream delivery p50 / p99 / max", _spread(summary["delivery"], unit="ms", scale=1000)),
        ("engine overhead p50 / p99 / max", _spread(summary["overhead"], unit="ms", scale=1000)),
    ]
    lines = [f"## {title}", "", "| figure | value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if summary["measured"] < summary["confirmed"]:
        lines += ["", f"Derived times cover {summary['measured']} of the {summary['confirmed']} confirmed orders."]
    return "\n".join(lines)


FORMULAS = """\
## How the figures are computed

The client and the engine run on the same machine and read the same clock. For each order the
client records when it sent the POST and when the terminal event arrived over the WebSocket; after
the scenario it reads the order's events (`GET /api/orders/<id>/`), whose timestamps the engine
wrote when it stored them. With q = 0.2 s x latency scale, the time of the two concurrent quotes:

- end-to-end latency = terminal event received - POST sent
- POST round trip = 201 received - POST sent
- wall time = last terminal event received - first POST sent; throughput = confirmed / wall time x 60
- mean venue time = latency scale x (0.2 s quotes + 2.5 s mean swap); bound = concurrency x 60 /
  mean venue time, the most orders a minute that many worker processes can take through the venues
- worker start = first `routing` event - q (starting an order is not an event of its own)
- queue wait = worker start - `pending` event
- execution time = `confirmed` event - worker start
- swap time = `confirmed` event - `submitted` event
- stream delivery = terminal event received - `confirmed` event stored
- engine overhead = end-to-end latency - swap time - q - queue wait: the POST up to the stored
  `pending` event, the database moves between the venue calls, publishing and WebSocket delivery.
  The quotes vary by +-10 %, so the overhead is known to about +-0.02 s x latency scale.

Percentiles are nearest-rank. All but the counts, wall time and throughput cover confirmed orders.
"""


def render(*, header: list[str], sections: list[str]) -> str:
    return "\n\n".join(["# Benchmarks", "\n".join(header), *sections, FORMULAS])
