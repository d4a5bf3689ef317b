"""The Celery task that executes an order, with its retry policy."""

import logging

from celery import shared_task
from django.conf import settings

from dex.errors import VenueError
from orders.exceptions import InvalidTransition
from orders.models import Order
from orders.services import order_execute, order_fail, order_record_failure

logger = logging.getLogger(__name__)


def retry_countdown(retries: int, base: float) -> float:
    """Exponential backoff from `base` seconds: base, 2*base, 4*base...

    Celery's own retry_backoff rounds its factor to a whole second, too coarse for 0.5 s.
    """
    return base * 2**retries


@shared_task(
    bind=True,
    name="orders.execute_order",
    max_retries=settings.ORDER_MAX_ATTEMPTS - 1,
    backoff_base=settings.ORDER_RETRY_BACKOFF,
)
def execute_order_task(self, order_id: str) -> None:
    attempt = self.request.retries + 1
    try:
        order_execute(order_id=order_id, attempt=attempt)
    except Order.DoesNotExist:
        logger.warning("order %s does not exist; nothing to execute", order_id)
    except InvalidTransition as exc:
        # Another delivery of this order has moved it on; that one carries on.
        logger.info("order %s: %s", order_id, exc)
    except VenueError as exc:
        logger.warning("order %s attempt %s failed: %s", order_id, attempt, exc)
        order_record_failure(order_id=order_id, attempt=attempt, error=str(exc))
        if self.request.retries >= self.max_retries:
            order_fail(order_id=order_id, error=str(exc), attempts=attempt)
            return
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries, self.backoff_base)) from exc
