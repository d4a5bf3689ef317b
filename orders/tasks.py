"""Celery tasks: executing an order, re-driving stalled ones, triggering and expiring waiting
ones, purging old idempotency keys."""

import logging

from celery import shared_task
from django.conf import settings

from orders.exceptions import AttemptTaken, InvalidTransition
from orders.execution import order_execute
from orders.models import Order
from orders.recovery import order_recover_stalled
from orders.triggers import orders_expire_due, orders_trigger_launches, orders_trigger_reached

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="orders.execute_order",
    # The database counts attempts (ORDER_MAX_ATTEMPTS); the queue only carries the waits.
    max_retries=None,
    soft_time_limit=settings.ORDER_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.ORDER_TASK_SOFT_TIME_LIMIT + 30,
)
def execute_order_task(self, order_id: str) -> None:
    try:
        retry_in = order_execute(order_id=order_id)
    except Order.DoesNotExist:
        logger.warning("order %s does not exist; nothing to execute", order_id)
        return
    except (InvalidTransition, AttemptTaken) as exc:
        # Another delivery of this order got ahead; that one carries on.
        logger.info("order %s: %s", order_id, exc)
        return
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="orders.recover_stalled")
def recover_stalled_orders_task() -> int:
    return len(order_recover_stalled())


@shared_task(name="orders.trigger_waiting")
def trigger_waiting_orders_task() -> int:
    return len(orders_expire_due()) + len(orders_trigger_reached()) + len(orders_trigger_launches())


@shared_task(name="orders.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    from orders.idempotency import idempotency_keys_purge

    return idempotency_keys_purge()
