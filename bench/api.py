"""REST API throughput and latency under wrk: placing orders, reading one order, and the web's floor (a request
that touches neither database nor Redis); with the CPU each process spends per request."""

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.engine import Engine, own_engine
from bench.load import ORDER, warm_up
from bench.report import Section, cpu_ms, cpu_row, table

POST_RATE, POST_P99 = 1400, 0.100  # requests a second, seconds
THREADS = 2  # one per CPU
RESULT_MARK = "BENCH-RESULT "
UNFINISHED = ("pending", "routing", "building", "submitted")

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


def _wrk_cpu_seconds() -> float:
    # wrk runs as a child of this process, waited for: its CPU is in RUSAGE_CHILDREN once it ends.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measured(engine: Engine, path: str, script: str, *, seconds: float, connections: int) -> dict:
    """wrk's figures for one endpoint, with the CPU each process spent per request meanwhile, wrk's own as the
    client's."""
    before, wrk_before = engine.cpu_seconds(), _wrk_cpu_seconds()
    figures = wrk(f"{engine.url}{path}", script, seconds=seconds, connections=connections)
    after = engine.cpu_seconds()
    after["client"] = before["client"] + _wrk_cpu_seconds() - wrk_before
    figures["cpu_ms"] = cpu_ms(before, after, figures["requests"]) if figures["requests"] else {}
    return figures


def _drain(engine: Engine, time_limit: float) -> None:
    """Wait until the worker has finished every order placed so far, so that the next run starts on an idle
    engine."""
    deadline = time.monotonic() + time_limit
    count = "SELECT count(*) FROM orders_order WHERE status = ANY(%s)"
    with psycopg.connect(engine.database_url, autocommit=True) as conn:
        while conn.execute(count, [list(UNFINISHED)]).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"orders still unfinished after {time_limit:g} s")
            time.sleep(0.2)


def run_api(args) -> Section:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: `apt-get install wrk` (make bench does it)")
    seconds, connections = args.api_seconds, args.api_connections
    print(f"API: wrk, {connections} connections, {seconds:g} s per endpoint, DEX latency scale 0", flush=True)
    with own_engine(latency_scale=0, concurrency=args.concurrency) as engine:
        web_processes = engine.stack.web_processes
        placed = warm_up(engine.url, token=engine.token, orders=100)
        order_ids = [timing.order_id for timing in placed if timing.order_id]
        run = {"seconds": seconds, "connections": connections}
        floor = _measured(engine, "/healthz", DONE, **run)
        get = _measured(engine, f"/api/orders/{order_ids[0]}/", get_script(engine.token, order_ids), **run)
        # The API alone: the orders wait in the queue while the run goes on, then the worker executes them all
        # before the run the target is measured on, which starts on an idle engine as a user's would.
        engine.consume(on=False)
        alone = _measured(engine, "/api/orders/execute", post_script(engine.token), **run)
        engine.consume(on=True)
        _drain(engine, args.time_limit)
        post = _measured(engine, "/api/orders/execute", post_script(engine.token), **run)
    cpus = os.cpu_count() or 1
    rows = [
        *_row("`POST /api/orders/execute`", post, rate=POST_RATE, p99=POST_P99),
        cpu_row(post["cpu_ms"], per="POST", client="wrk"),
        (
            "CPU per POST the target leaves: all processes together, client included",
            f"{cpus * 1000 / POST_RATE:.2f} ms ({cpus} CPUs / {POST_RATE} req/s)",
        ),
        *_row("the same POSTs with the worker not taking orders (the API alone)", alone),
        cpu_row(alone["cpu_ms"], per="POST", client="wrk"),
        *_row("`GET /api/orders/<id>/`", get),
        cpu_row(get["cpu_ms"], per="GET", client="wrk"),
        *_row("`GET /healthz`: the web's floor, neither database nor Redis", floor),
        cpu_row(floor["cpu_ms"], per="request", client="wrk"),
    ]
    markdown = "\n".join(
        [
            f"## REST API under wrk, {connections} connections",
            "",
            f"wrk {THREADS} threads, {connections} connections, {seconds:g} s per endpoint, on loopback against the "
            f"engine's {web_processes} daphne processes (WEB_PROCESSES); DEX latency scale 0, worker concurrency "
            f"{args.concurrency}. Each POST places an order (`{json.dumps(ORDER)}`) that the worker executes while "
            f"the run goes on, on the same {cpus} CPUs; the target's run starts with no order unfinished. The run "
            "before it places the same orders while the worker does not take them from its queue (Celery's "
            "`cancel_consumer`): what placing an order costs on its own. The GET run reads "
            f"{len(order_ids)} finished orders (each with its events) in turn. `/healthz` answers from the web "
            'process alone (`{"status": "ok"}`), through the same server, middleware and URL routing: the '
            "cheapest request it answers. Latency is wrk's: from sending a request to its full "
            "response on a connection that sends the next one "
            "only then (closed loop); errors are non-2xx/3xx answers, timeouts and socket errors. CPU per request "
            "is each process's user and system time over the run (a process with its children) divided by the "
            "requests answered.",
            "",
            table(rows),
        ]
    )
    return Section("api", markdown, raw={"post": post, "post_alone": alone, "get": get, "healthz": floor})
