"""Re-driving orders that nothing has moved for too long: a lost message, a dead worker, a broker
that was down when the order was placed. PostgreSQL is the source of truth, not the queue."""

import logging
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from orders.models import Order
from orders.services import after_commit, stall_deadline
from orders.states import TERMINAL

logger = logging.getLogger(__name__)


@transaction.atomic
def order_recover_stalled(*, limit: int = 500) -> list[UUID]:
    """Queue again every unfinished order past its check time, and push that time forward.

    Rows locked by a step in progress are skipped: that order is moving. Re-driving an order
    whose first task is merely slow is safe, since executions of one order cannot repeat a step.
    """
    from orders.tasks import execute_order_task

    stalled = list(
        Order.objects.filter(next_check_at__lt=timezone.now())
        .exclude(status__in=TERMINAL)
        .order_by("next_check_at")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:limit]
    )
    if stalled:
        Order.objects.filter(id__in=stalled).update(next_check_at=stall_deadline())
        logger.warning("re-driving %d stalled orders", len(stalled))
        for order_id in stalled:
            after_commit(execute_order_task.delay, str(order_id))
    return stalled
