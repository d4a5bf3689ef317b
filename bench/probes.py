"""Counters read from the engine's servers and processes: PostgreSQL, Redis, a process's memory and CPU."""

import contextlib
import re
from collections import Counter
from pathlib import Path

import psycopg
import redis

# PostgreSQL 15+ backends flush their statistics at most every 10 s while idle: the wait before a
# snapshot that must include everything done so far.
PG_STATS_SETTLE = 11.0
PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")
STATEMENT = re.compile(r"LOG:\s+(?:statement|execute [^:]*):[ \t]*(.*)")
TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def pg_counters(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return dict(zip(PG_COUNTERS, row, strict=True))


def redis_commands(url: str) -> Counter:
    """Calls per command since the server started."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def statement_log(database_url: str, on: bool) -> None:
    """Have PostgreSQL log every statement (or stop), without a restart."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET log_statement = 'all'" if on else "ALTER SYSTEM RESET log_statement")
        conn.execute("SELECT pg_reload_conf()")


def count_statements(text: str) -> Counter:
    """Statements in a PostgreSQL log, by verb and table: ("SELECT", "orders_order"), ("COMMIT", "")..."""
    counts: Counter = Counter()
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = STATEMENT.search(line)
        if not match:
            continue
        statement = match.group(1).strip()
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not statement and following.startswith("\t"):
            # A statement that starts with a line break goes on, in the log, on the next line.
            statement = following.strip()
        # An empty statement is a round trip all the same: Django's connection health check.
        verb = statement.split(None, 1)[0].upper() if statement else "(empty: a connection check)"
        table = TABLE.search(statement) if verb in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") else None
        counts[(verb, table.group(1) if table else "")] += 1
    return counts


def cpu_seconds(engine_pids: dict[str, int], server_ports: dict[str, list[int]]) -> Counter:
    """CPU seconds (user + system) used so far, by part: each engine process with its children, each
    server (found by the loopback port it listens on) with its children, and this process, the client."""
    import psutil

    def tree(pid: int) -> float:
        process = psutil.Process(pid)
        total = 0.0
        for each in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(each.cpu_times()[:2])
        return total

    used: Counter = Counter()
    for name, pid in engine_pids.items():
        used["web" if name.startswith("web") else name] += tree(pid)
    listening = {c.laddr.port: c.pid for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    for part, ports in server_ports.items():
        used[part] += sum(tree(listening[port]) for port in ports if listening.get(port))
    used["client"] += sum(psutil.Process().cpu_times()[:2])
    return used
