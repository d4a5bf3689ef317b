"""`make run`: the whole engine in one terminal, and all of it stopped again by Ctrl-C.

Starts embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL are set, migrates, makes
sure a demo admin exists, then runs web (WEB_PROCESSES daphne processes sharing one port, one per
CPU by default), worker, beat and Flower with their output prefixed by name. Ctrl-C or SIGTERM
stops the processes that use the servers first (the worker finishes its in-flight orders), then
the servers.
"""

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from engine.devservers import EmbeddedPostgres, EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 60
WORKER_READY_LOGGER = "celery.apps.worker"
COLORS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m"]
RESET = "\033[0m"


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM the child if the launcher itself is killed, so nothing is orphaned."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Stack:
    # PostgreSQL settings of the embedded server beyond its defaults (`-c name=value`).
    postgres_settings: dict[str, str] = {}

    def __init__(self, *, log_path: Path | None = None) -> None:
        self.data_dir = Path(os.environ.get("ENGINE_DATA_DIR", ROOT / ".data")).resolve()
        self.port = int(os.environ.get("PORT", "8000"))
        self.flower_port = int(os.environ.get("FLOWER_PORT", "5555"))
        self.concurrency = os.environ.get("WORKER_CONCURRENCY", "10")
        # One daphne per CPU: a daphne process runs Python on one CPU at a time.
        self.web_processes = int(os.environ.get("WEB_PROCESSES") or os.cpu_count() or 1)
        self.listener: socket.socket | None = None
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        # A local engine: debug pages on, plain HTTP, a key of its own kept with its data.
        self.env.setdefault("DEBUG", "true")
        self.env.setdefault("LOG_FORMAT", "plain")
        self.env.setdefault("SECRET_KEY", self._local_secret_key())
        self.flower_auth = self.env.get("FLOWER_BASIC_AUTH", "admin:admin")
        self.token = ""
        self.servers: list = []
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.worker_ready = threading.Event()
        # Children's output goes to the terminal, prefixed by name, or to a file when given one.
        self.out = open(log_path, "a") if log_path else sys.stdout  # noqa: SIM115
        self.color = self.out.isatty()

    def _local_secret_key(self) -> str:
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    def say(self, text: str) -> None:
        print(text, flush=True)

    def start_servers(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if "DATABASE_URL" not in self.env:
            port = int(self.env.get("EMBEDDED_PG_PORT", "54320"))
            postgres = EmbeddedPostgres(self.data_dir / "postgres", port, settings=self.postgres_settings).start()
            self.servers.append(postgres)
            self.env["DATABASE_URL"] = postgres.url
            self.say(f"embedded PostgreSQL on 127.0.0.1:{port}, data in {postgres.data_dir}")
        if "REDIS_URL" not in self.env:
            port = int(self.env.get("EMBEDDED_REDIS_PORT", "63790"))
            redis_server = EmbeddedRedis(self.data_dir / "redis", port).start()
            self.servers.append(redis_server)
            self.env["REDIS_URL"] = redis_server.url
            self.say(f"embedded Redis on 127.0.0.1:{port}, data in {redis_server.data_dir}")

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, stdout=self.out, stderr=self.out
        )

    def demo_token(self) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", "create_account", "demo"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def spawn(self, name: str, command: list[str], *, pass_fds: tuple[int, ...] = ()) -> None:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            pass_fds=pass_fds,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
            preexec_fn=_die_with_parent,
        )
        self.processes[name] = process
        color = COLORS[len(self.processes) % len(COLORS)] if self.color else ""
        prefix = f"{color}{name:<7}|{RESET if color else ''} "
        threading.Thread(target=self._relay, args=(name, process, prefix), daemon=True).start()

    def _relay(self, name: str, process: subprocess.Popen, prefix: str) -> None:
        for line in iter(process.stdout.readline, b""):
            text = line.decode(errors="replace")
            # Celery's own word that the worker consumes: "<node> ready.", logged by celery.apps.worker.
            if name == "worker" and WORKER_READY_LOGGER in text and " ready." in text:
                self.worker_ready.set()
            self.out.write(prefix + text)
            self.out.flush()

    def listen(self) -> int:
        """The web port, bound once here: every daphne process accepts connections from it."""
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(1024)
        return self.listener.fileno()

    def start_processes(self) -> None:
        celery = [sys.executable, "-m", "celery", "-A", "engine"]
        web = self.listen()
        daphne = [sys.executable, "-m", "daphne", "--fd", str(web), "engine.asgi:application"]
        for number in range(1, self.web_processes + 1):
            self.spawn(f"web{number}", daphne, pass_fds=(web,))
        self.spawn("worker", [*celery, "worker", "--concurrency", self.concurrency, "-l", "info", "-n", "worker@%h"])
        self.spawn("beat", [*celery, "beat", "-l", "info", "-s", str(self.data_dir / "celerybeat-schedule")])
        flower = ["--address=127.0.0.1", f"--port={self.flower_port}", f"--basic-auth={self.flower_auth}"]
        self.spawn("flower", [*celery, "flower", *flower])

    def wait_ready(self) -> None:
        for url in (f"http://127.0.0.1:{self.port}/readyz", f"http://127.0.0.1:{self.flower_port}/healthcheck"):
            deadline = time.monotonic() + 60
            while True:
                self.check_children()
                try:
                    urllib.request.urlopen(url, timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{url} did not answer within 60 s") from None
                    time.sleep(0.2)
        # An order placed before the worker consumes waits for it: ready means ready to execute too.
        deadline = time.monotonic() + 60
        while "worker" in self.processes and not self.worker_ready.wait(0.2):
            self.check_children()
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not say it was ready within 60 s")

    def check_children(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and not self.stopping.is_set():
                raise RuntimeError(f"{name} exited with code {process.returncode}")

    def banner(self) -> None:
        base = f"http://127.0.0.1:{self.port}"
        flower_login = self.flower_auth.replace(":", " / ", 1)
        watch_url = "" if self.port == 8000 else f" --url ws://127.0.0.1:{self.port}"
        self.say(
            "\n".join(
                [
                    "",
                    "Order execution engine is ready.",
                    f"  API        {base}/api/orders/",
                    f"  API docs   {base}/api/docs/",
                    f"  Admin      {base}/admin/  (login {self.env.get('DEMO_ADMIN_USER', 'admin')} / "
                    f"{self.env.get('DEMO_ADMIN_PASSWORD', 'admin')})",
                    f"  Flower     http://127.0.0.1:{self.flower_port}/  (login {flower_login})",
                    f"  Demo account token  {self.token}",
                    "  Place an order:",
                    f"    curl -s -X POST {base}/api/orders/execute -H 'Authorization: Token {self.token}' "
                    """-H 'Content-Type: application/json' -d '{"tokenIn":"SOL","tokenOut":"USDC","amount":"10"}'""",
                    f"  Watch it:  .venv/bin/python -m orders.watch{watch_url} --token {self.token} <orderId>",
                    "Press Ctrl-C to stop everything.",
                    "",
                ]
            )
        )

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.listener is not None:
            self.listener.close()
        for server in reversed(self.servers):
            server.stop()

    def start(self) -> None:
        """Everything up and answering; on failure the caller still calls stop()."""
        self.start_servers()
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("create_demo_admin")
        self.token = self.demo_token()
        self.start_processes()
        self.wait_ready()

    def run(self) -> int:
        def on_signal(signum, frame):
            # Only the first signal interrupts; a second Ctrl-C must not cut the orderly stop short.
            if not self.stopping.is_set():
                self.stopping.set()
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            self.start()
            self.banner()
            while True:
                self.check_children()
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.say("\nstopping: web, worker, beat, flower, then the servers...")
            return 0
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            self.say(f"engine stopped: {exc}")
            return 1
        finally:
            self.stop()
            self.say("stopped.")


if __name__ == "__main__":
    if sys.argv[1:] != ["run"]:
        sys.exit("usage: python -m engine.stack run")
    sys.exit(Stack().run())
