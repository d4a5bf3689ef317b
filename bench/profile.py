"""Sampling profiles of engine processes with py-spy, boiled down to where the CPU time goes."""

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

RATE = 100  # samples a second
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
# The leaf frame's file decides a sample's area; the first pattern that matches wins.
AREAS = (
    ("PostgreSQL driver (psycopg)", ("psycopg",)),
    ("Django ORM", ("django/db/",)),
    ("Django REST framework", ("rest_framework/",)),
    ("Django (other)", ("django/",)),
    ("Channels, daphne, Twisted", ("channels/", "channels_redis/", "daphne/", "twisted/", "autobahn/", "asgiref/")),
    ("Redis client", ("redis/",)),
    ("Celery, kombu, billiard", ("celery/", "kombu/", "billiard/", "vine/")),
    ("engine code (engine/, orders/, dex/)", ("engine/", "orders/", "dex/")),
    ("JSON", ("json/",)),
    ("logging", ("logging/",)),
    ("asyncio, selectors, threads", ("asyncio/", "selectors.py", "threading.py", "concurrent/")),
)
OWN_CODE = ("engine/", "orders/", "dex/")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Recording:
    """`py-spy record` of one process (and its children) until stopped."""

    def __init__(self, pid: int, path: Path, *, subprocesses: bool = False) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self.path = path
        command = [binary, "record", "--pid", str(pid), "--format", "raw", "--output", str(path), "--rate", str(RATE)]
        # Non-blocking: the target is never paused, so the profile costs it next to nothing. Only threads
        # holding the GIL: Python's CPU time, not threads waiting on a socket or a queue.
        command += ["--nonblocking", "--gil"] + (["--subprocesses"] if subprocesses else [])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        # py-spy writes its file when interrupted, as after Ctrl-C.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for frame in stack.split(";"):
        match = FRAME.match(frame)
        if match:
            frames.append((match["function"], match["file"]))
    return frames


def _area(file: str) -> str:
    for name, patterns in AREAS:
        if any(pattern in file for pattern in patterns):
            return name
    return "other (stdlib, interpreter)"


def summarize_profile(path: Path, *, top: int = 10) -> dict:
    """Samples by area of the leaf frame, the busiest leaf functions, and the engine's own functions by
    inclusive time (each counted once per sample)."""
    areas: Counter = Counter()
    leaves: Counter = Counter()
    own: Counter = Counter()
    total = 0
    text = path.read_text(errors="replace") if path.exists() else ""
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += samples
        function, file = frames[-1]
        areas[_area(file)] += samples
        leaves[f"{function} ({file})"] += samples
        for name in {f"{function} ({file})" for function, file in frames if file.startswith(OWN_CODE)}:
            own[name] += samples

    def shares(counter: Counter) -> list[tuple[str, float]]:
        return [(name, count / total) for name, count in counter.most_common(top)] if total else []

    return {
        "samples": total,
        "seconds": total / RATE,
        "areas": shares(areas),
        "leaves": shares(leaves),
        "own": shares(own),
    }


def profile_markdown(title: str, summary: dict) -> str:
    if not summary["samples"]:
        return f"{title}: no samples."
    lines = [
        f"{title}: {summary['samples']} samples ({summary['seconds']:.1f} s of CPU at {RATE} Hz).",
        "",
        "| where (leaf frame) | share |",
        "| --- | --- |",
        *[f"| {name} | {share:.0%} |" for name, share in summary["areas"]],
        "",
        "| busiest functions (self) | share |",
        "| --- | --- |",
        *[f"| `{name}` | {share:.1%} |" for name, share in summary["leaves"]],
    ]
    if summary["own"]:
        lines += [
            "",
            "| engine functions (inclusive) | share |",
            "| --- | --- |",
            *[f"| `{name}` | {share:.0%} |" for name, share in summary["own"]],
        ]
    return "\n".join(lines)
