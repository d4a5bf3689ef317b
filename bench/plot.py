"""The steady-load plot: how end-to-end latency is distributed, and throughput over time."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here: render straight to a file

import matplotlib.pyplot as plt

from bench.load import OrderTiming

WINDOW = 10.0  # seconds per throughput point


def steady_plot(results: dict[float, list[OrderTiming]], summaries: dict[float, dict], path: Path) -> None:
    figure, (spread_axes, time_axes) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for rate, timings in results.items():
        latencies = sorted(summaries[rate]["latency"])
        if latencies:
            shares = [(index + 1) / len(latencies) for index in range(len(latencies))]
            spread_axes.plot(latencies, shares, label=f"{rate:g} orders/min")
        ended = sorted(timing.terminal_at for timing in timings if timing.status == "confirmed")
        posted = [timing.posted_at for timing in timings if timing.posted_at is not None]
        if not ended or not posted:
            continue
        start = min(posted)
        windows = int((ended[-1] - start) // WINDOW) + 1
        counts = [0] * windows
        for moment in ended:
            counts[int((moment - start) // WINDOW)] += 1
        # The last window is cut short by the end of the run: its rate is over the part that ran, and
        # a stub of less than half a window says more about chance than about throughput.
        last = ended[-1] - start - (windows - 1) * WINDOW
        lengths = [WINDOW] * (windows - 1) + [last]
        if last < WINDOW / 2 and windows > 1:
            counts, lengths = counts[:-1], lengths[:-1]
        line = time_axes.plot(
            [(index + 0.5) * WINDOW for index in range(len(counts))],
            [count * 60 / max(length, 1.0) for count, length in zip(counts, lengths, strict=True)],
            marker="o",
            label=f"confirmed, {rate:g}/min offered",
        )
        time_axes.axhline(rate, linestyle=":", color=line[0].get_color())
    spread_axes.set(
        title="End-to-end latency distribution (POST to terminal event)",
        xlabel="seconds",
        ylabel="share of orders at or below",
    )
    spread_axes.grid(alpha=0.3)
    spread_axes.legend()
    time_axes.set(
        title=f"Throughput over time ({WINDOW:g} s windows)", xlabel="seconds since the first POST", ylabel="orders/min"
    )
    time_axes.grid(alpha=0.3)
    time_axes.legend()
    figure.savefig(path, dpi=100)
    plt.close(figure)
