"""Pytest plugin: real PostgreSQL and Redis for the suite, started before Django reads settings.

Loaded with `-p tests.services`, so its hook wraps pytest-django's settings set-up. With
DATABASE_URL and REDIS_URL in the environment the suite uses those servers instead.
"""

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from engine.devservers import EmbeddedPostgres, EmbeddedRedis, free_port

_servers: list = []
_data_dirs: list[Path] = []


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Threads of in-process consumer tests must not keep connections that block dropping the test
    # database; the engine processes the tests start get their usual setting back.
    os.environ.setdefault("DB_CONN_MAX_AGE", "0")
    os.environ.setdefault("DB_POOL_SIZE", "0")
    # Production settings over plain HTTP on loopback, with a key made for this run.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    if "DATABASE_URL" not in os.environ or "REDIS_URL" not in os.environ:
        data_dir = Path(tempfile.mkdtemp(prefix="engine-test-"))
        _data_dirs.append(data_dir)
        # pytest_unconfigure is not called when pytest stops on a usage error after this hook.
        atexit.register(_stop_servers)
    if "DATABASE_URL" not in os.environ:
        postgres = EmbeddedPostgres(data_dir / "postgres", free_port(), durable=False).start()
        _servers.append(postgres)
        os.environ["DATABASE_URL"] = postgres.url
    if "REDIS_URL" not in os.environ:
        redis_server = EmbeddedRedis(data_dir / "redis", free_port(), durable=False).start()
        _servers.append(redis_server)
        os.environ["REDIS_URL"] = redis_server.url
    return (yield)


def pytest_unconfigure(config):
    _stop_servers()


def _stop_servers() -> None:
    while _servers:
        _servers.pop().stop()
    while _data_dirs:
        shutil.rmtree(_data_dirs.pop(), ignore_errors=True)
