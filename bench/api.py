"""REST API throughput and latency under wrk: placing orders, and reading one order."""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.engine import own_engine
from bench.load import ORDER, warm_up
from bench.report import Section, table

POST_RATE, POST_P99 = 1400, 0.100  # requests a second, seconds
THREADS = 2  # one per CPU
RESULT_MARK = "BENCH-RESULT "

# wrk's own summary has no percentiles beyond its histogram print-out: done() writes them as one JSON line.
DONE = """
done = function(summary, latency, requests)
  io.write(string.format('%s{"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, '
    .. '"read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "mean_us": %.1f}\\n',
    "RESULT_MARK", summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
""".replace("RESULT_MARK", RESULT_MARK)


def _headers(token: str) -> str:
    return f'wrk.headers["Authorization"] = "Token {token}"\nwrk.headers["Content-Type"] = "application/json"\n'


def post_script(token: str) -> str:
    body = json.dumps(ORDER).replace("\\", "\\\\").replace('"', '\\"')
    return f'wrk.method = "POST"\nwrk.body = "{body}"\n' + _headers(token) + DONE


def get_script(token: str, order_ids: list[str]) -> str:
    ids = ", ".join(f'"{order_id}"' for order_id in order_ids)
    return (
        _headers(token)
        + f"local ids = {{{ids}}}\nlocal next_id = 0\n"
        + "request = function()\n  next_id = next_id % #ids + 1\n"
        + '  return wrk.format("GET", "/api/orders/" .. ids[next_id] .. "/")\nend\n'
        + DONE
    )


def wrk(url: str, script: str, *, seconds: float, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        command = [
            "wrk",
            f"-t{min(THREADS, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            file.name,
            url,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    finally:
        Path(file.name).unlink()
    line = next((line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    figures = json.loads(line.removeprefix(RESULT_MARK))
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(
        figures[name] for name in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return figures


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def _row(name: str, figures: dict, *, rate: float | None = None, p99: float | None = None) -> list:
    throughput = f"{figures['rate']:.0f} req/s ({figures['requests']} requests, {figures['errors']} errors)"
    latency = f"{_ms(figures['p50_us'])} / {_ms(figures['p99_us'])} / {_ms(figures['max_us'])} ms"
    ok_rate = rate is not None and figures["rate"] >= rate and figures["errors"] == 0
    return [
        (f"{name}: throughput", throughput, f">= {rate} req/s" if rate else "", ok_rate if rate else None),
        (
            f"{name}: latency p50 / p99 / max",
            latency,
            f"p99 <= {p99 * 1000:.0f} ms" if p99 else "",
            figures["p99_us"] <= p99 * 1e6 if p99 else None,
        ),
    ]


def run_api(args) -> Section:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `apt-get install wrk` (make bench does it)")
    seconds, connections = args.api_seconds, args.api_connections
    print(f"API: wrk, {connections} connections, {seconds:g} s per endpoint, DEX latency scale 0", flush=True)
    with own_engine(latency_scale=0, concurrency=args.concurrency) as engine:
        web_processes = engine.stack.web_processes
        placed = warm_up(engine.url, token=engine.token, orders=100)
        order_ids = [timing.order_id for timing in placed if timing.order_id]
        # Reads first: the orders the POST run places keep the worker busy long after it ends.
        get = wrk(
            f"{engine.url}/api/orders/{order_ids[0]}/",
            get_script(engine.token, order_ids),
            seconds=seconds,
            connections=connections,
        )
        post = wrk(
            f"{engine.url}/api/orders/execute", post_script(engine.token), seconds=seconds, connections=connections
        )
    rows = [
        *_row("`POST /api/orders/execute`", post, rate=POST_RATE, p99=POST_P99),
        *_row("`GET /api/orders/<id>/`", get),
    ]
    markdown = "\n".join(
        [
            f"## REST API under wrk, {connections} connections",
            "",
            f"wrk {THREADS} threads, {connections} connections, {seconds:g} s per endpoint, on loopback against the "
            f"engine's {web_processes} daphne processes (WEB_PROCESSES); DEX latency scale 0, worker concurrency "
            f"{args.concurrency}. Each POST places an order (`{json.dumps(ORDER)}`) that the worker executes while "
            f"the run goes on, on the same two CPUs. The GET run reads {len(order_ids)} finished orders (each with "
            "its events) in turn, before the POST run. Latency is wrk's: from sending a request to its full "
            "response on a connection that sends the next one "
            "only then (closed loop); errors are non-2xx/3xx answers, timeouts and socket errors.",
            "",
            table(rows),
        ]
    )
    return Section("api", markdown, raw={"post": post, "get": get})
