"""Health endpoints: alive, and ready only while the database, broker and channel layer answer."""

import pytest

from engine.devservers import EmbeddedRedis, free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_is_alive(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database_migrations_broker_and_channel_layer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok", "channel_layer": "ok"},
    }


def test_readyz_turns_unavailable_while_redis_is_stopped_and_ready_when_it_returns(client, settings, tmp_path):
    redis_server = EmbeddedRedis(tmp_path / "redis", free_port(), durable=False).start()
    settings.CELERY_BROKER_URL = redis_server.url
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [redis_server.url]}}
    }
    try:
        before = client.get("/readyz")
        redis_server.stop()
        during = client.get("/readyz")
        redis_server.start()
        after = client.get("/readyz")
    finally:
        redis_server.stop()

    assert before.status_code == 200
    assert during.status_code == 503
    assert during.json()["status"] == "unavailable"
    assert during.json()["checks"]["database"] == "ok"
    assert during.json()["checks"]["broker"].startswith("unavailable")
    assert during.json()["checks"]["channel_layer"].startswith("unavailable")
    assert after.status_code == 200
