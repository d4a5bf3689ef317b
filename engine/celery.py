"""The Celery app: configured from the Django settings' CELERY_* values."""

import os

from celery import Celery
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engine.settings")

app = Celery("engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Worker and beat log through Django's LOGGING, JSON lines with the order id, like the web."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
def remember_order(task=None, args=None, **kwargs) -> None:
    from engine.logs import current_order_id

    # Order tasks take the order id first; it stamps every line the task logs.
    current_order_id.set(args[0] if task.name == "orders.execute_order" and args else None)


@task_postrun.connect
def forget_order(**kwargs) -> None:
    from engine.logs import current_order_id

    current_order_id.set(None)


@task_postrun.connect
@worker_process_shutdown.connect
def finish_side_effects(**kwargs) -> None:
    from orders.background import wait_for_background

    # A task's events and metrics go out on the process's background thread while it goes on; it
    # ends only once they are out, so a finished task has published everything it moved.
    wait_for_background()


@task_prerun.connect
@task_postrun.connect
def recycle_connections(**kwargs) -> None:
    from django.db import close_old_connections

    # A task is the worker's request: as Django does around a request, a connection past its age
    # or broken by an error is let go, and a pooled one goes back to its pool (CELERY_DB_REUSE_MAX
    # keeps Celery from closing every connection after every task).
    close_old_connections()


@worker_init.connect
def freeze_before_forking(**kwargs) -> None:
    from engine.startup import freeze_startup_objects

    # The task modules are loaded by now; the pool's processes, forked later, inherit the frozen set.
    freeze_startup_objects()


@worker_process_init.connect
def connect_before_the_first_order(**kwargs) -> None:
    from orders.publisher import publisher_start

    # Each pool process connects its publisher as it starts, not in the middle of its first order.
    publisher_start()
