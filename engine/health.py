"""Health endpoints for load balancers and orchestrators: alive, and ready to serve orders."""

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

TIMEOUT_SECONDS = 1.0


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers; nothing else is checked, so a restart is only asked for when it hangs."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def _migrations() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise RuntimeError(f"{len(pending)} migrations not applied")


def _redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


def _channel_layer_url() -> str:
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    return host["address"] if isinstance(host, dict) else host


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers with every migration applied, and the broker and the
    channel layer's Redis answer; 503 naming what does not."""
    checks = {
        "database": _database,
        "migrations": _migrations,
        "broker": lambda: _redis(settings.CELERY_BROKER_URL),
        "channel_layer": lambda: _redis(_channel_layer_url()),
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; its message says which
            results[name] = f"unavailable: {exc}"
    ready = all(result == "ok" for result in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )
