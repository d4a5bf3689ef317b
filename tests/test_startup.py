"""Long-lived processes keep their start-up objects out of the garbage collector's full passes."""

import os
import subprocess
import sys

from tests.conftest import ROOT

# Django, DRF, Channels and the engine's own modules come to about 130,000 objects.
STARTUP_OBJECTS = 50_000


def frozen_after(code: str) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "engine.settings"}
    script = f"import gc\n{code}\nprint(gc.get_freeze_count())"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_the_web_application_freezes_what_it_loaded_including_the_views():
    frozen = frozen_after("import engine.asgi\nimport sys\nassert 'orders.views' in sys.modules")

    assert frozen > STARTUP_OBJECTS


def test_the_worker_freezes_what_it_loaded_before_its_pool_forks():
    # What a worker does on start: its loader imports Django and the task modules, then worker_init.
    started = "from engine.celery import app\nfrom celery.signals import worker_init\n"
    started += (
        "app.loader.init_worker()\nworker_init.send(sender=None)\nimport sys\nassert 'orders.tasks' in sys.modules"
    )

    assert frozen_after(started) > STARTUP_OBJECTS


def pool_process_started(env: dict[str, str]) -> subprocess.CompletedProcess:
    """What a worker's pool process does as it starts, before its first task, once its background thread is
    done; then whether the channel layer's Redis has the publisher's scripts, which it had lost before.

    The process is forked from a worker whose loader has set Django up, as app.loader.init_worker() does here.
    """
    script = """
from engine.celery import app
from celery.signals import worker_process_init
app.loader.init_worker()
from redis import ConnectionError
from orders import group_send, publisher
from orders.background import wait_for_background
client = publisher._group_sender().clients[0]
try:
    shas = [client.script_load(group_send.MEMBERS), client.script_load(group_send.DELIVER)]
    client.script_flush()
except ConnectionError:
    shas = None
worker_process_init.send(sender=None)
assert wait_for_background(10)
print(shas and client.script_exists(*shas))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "engine.settings", **env}
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)


def test_a_pool_process_connects_its_publisher_before_its_first_order():
    started = pool_process_started({})

    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[-2:] == ["[True,", "True]"]
    assert "publisher not connected" not in started.stderr


def test_a_pool_process_starts_all_the_same_when_the_channel_layer_is_away():
    started = pool_process_started({"CHANNEL_LAYER_URL": "redis://127.0.0.1:1/0"})

    assert started.returncode == 0, started.stderr
    assert "publisher not connected at start" in started.stderr
