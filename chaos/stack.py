"""The engine's processes under the chaos run's control: each one can be killed and started again."""

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from engine.devservers import EmbeddedPostgres, EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent


class Stack:
    """PostgreSQL, Redis, daphne, one Celery worker and beat, on loopback ports of their own."""

    def __init__(self, *, latency_scale: float, lost_response_rate: float, failure_rate: float) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="engine-chaos-"))
        self.log = open(self.dir / "engine.log", "ab")  # noqa: SIM115
        self.port = free_port()
        self.postgres = EmbeddedPostgres(self.dir / "postgres", free_port())
        self.redis = EmbeddedRedis(self.dir / "redis", free_port())
        # The simulated chain stands for the Solana network: outside the engine, untouched by the
        # faults, so its record of executed swaps stays the ground truth when the engine's Redis dies.
        self.chain = EmbeddedRedis(self.dir / "chain", free_port())
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "DEX_LEDGER_URL")
        } | {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "DEX_LEDGER_URL": self.chain.url,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "PYTHONUNBUFFERED": "1",
            "DEX_LATENCY_SCALE": str(latency_scale),
            "DEX_LOST_RESPONSE_RATE": str(lost_response_rate),
            "DEX_FAILURE_RATE": str(failure_rate),
            # Recovery on a scale that fits a short run.
            "ORDER_STALL_SECONDS": "3",
            "ORDER_RECOVERY_INTERVAL": "1",
            "ORDER_MAX_OPEN_PER_ACCOUNT": "100000",
            "THROTTLE_PLACE_RATE": "100000/min",
            "THROTTLE_READ_RATE": "100000/min",
        }
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Everything up; returns the API token of the account that places the orders."""
        self.postgres.start()
        self.redis.start()
        self.chain.start()
        self._manage("migrate", "--noinput", "-v", "0")
        token = self._manage("create_account", "chaos").strip()
        for name in ("web", "worker", "beat"):
            self.start_process(name)
        self._wait_for_log(" ready.")
        return token

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.stop()
        self.chain.stop()
        self.postgres.stop()
        self.log.close()

    def start_process(self, name: str) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "engine"]
        command = {
            "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "engine.asgi:application"],
            "worker": [*celery, "worker", "--concurrency", "10", "-l", "info", "-n", f"chaos-{time.time_ns()}@%h"],
            "beat": [*celery, "beat", "-l", "info", "-s", str(self.dir / "celerybeat-schedule")],
        }[name]
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT
        )
        if name == "web":
            self._wait_for_port(self.port)

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no acknowledgements, whatever the process was doing."""
        process = self.processes[name]
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()
        process.kill()
        process.wait()

    def restart(self, name: str, *, grace: float = 5) -> None:
        """SIGTERM, as a supervisor restarting it would send, and SIGKILL after `grace` seconds."""
        process = self.processes[name]
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.start_process(name)

    def kill_pool_process(self) -> bool:
        """SIGKILL one of the worker's pool processes; its main process replaces it."""
        children = psutil.Process(self.processes["worker"].pid).children()
        if not children:
            return False
        children[0].kill()
        return True

    def restart_redis(self) -> None:
        """Kill Redis outright, then start it again on its append-only file."""
        self.redis.process.kill()
        self.redis.process.wait()
        self.redis.start()

    def restart_postgres(self) -> None:
        self.postgres.stop()
        self.postgres.start()

    def _manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def _wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in (self.dir / "engine.log").read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{text!r} did not appear in the engine log within {timeout} s")
            time.sleep(0.1)

    @staticmethod
    def _wait_for_port(port: int, timeout: float = 60) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on {port} after {timeout} s")
