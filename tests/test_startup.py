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
