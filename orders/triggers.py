"""Waiting orders: expire those past their time, and hand to the workers the limit orders whose
price the market has reached and the sniper orders whose token launches. Run by beat every
ORDER_TRIGGER_INTERVAL; a waiting order holds no worker and no sleeping task, so thousands can
wait at once."""

import logging
import time
from datetime import UTC, datetime
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.exceptions import InvalidTransition
from orders.models import Order, OrderType
from orders.services import after_commit, order_transition, stall_deadline
from orders.states import Status
from orders.venues import get_router

logger = logging.getLogger(__name__)


def orders_expire_due() -> list[UUID]:
    """Move every waiting order past its expiry to `expired`."""
    expired = []
    due = Order.objects.filter(status=Status.WAITING, expires_at__lte=timezone.now())
    for order_id, expires_at in due.values_list("id", "expires_at"):
        try:
            order_transition(
                order_id=order_id,
                expected=Status.WAITING,
                to=Status.EXPIRED,
                data={"expires_at": expires_at.isoformat()},
            )
            expired.append(order_id)
        except InvalidTransition:
            pass  # it started executing or was cancelled meanwhile
    return expired


def orders_trigger_reached() -> list[UUID]:
    """Queue every waiting limit order whose limit the best net price across the venues reaches.

    One price look-up per pair, whatever the number of orders waiting on it. The order is only
    marked triggered: the worker moves it on, and sends it back to waiting if the price has moved
    away again by the time it quotes.
    """
    from orders.tasks import execute_order_task

    router = get_router()
    now = time.time()
    waiting = Order.objects.filter(status=Status.WAITING, type=OrderType.LIMIT, triggered_at__isnull=True)
    triggered: list[UUID] = []
    for token_in, token_out in waiting.values_list("token_in", "token_out").distinct():
        price = router.best_spot_price(token_in, token_out, now)
        with transaction.atomic():
            reached = list(
                waiting.filter(token_in=token_in, token_out=token_out, limit_price__lte=price)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
            Order.objects.filter(id__in=reached).update(triggered_at=timezone.now(), next_check_at=stall_deadline())
            for order_id in reached:
                after_commit(execute_order_task.delay, str(order_id))
        triggered += reached
    if triggered:
        logger.info("%d limit orders reached their price", len(triggered))
    return triggered


def orders_trigger_launches() -> list[UUID]:
    """Queue the sniper orders of every token whose pool opens before the next check.

    A launch due before then is queued to run at its very moment (a countdown on the task), so a
    sniper order trades on the pool's first block, not up to one interval later.
    """
    from orders.tasks import execute_order_task

    board = get_router().launches
    horizon = time.time() + 2 * settings.ORDER_TRIGGER_INTERVAL
    waiting = Order.objects.filter(status=Status.WAITING, type=OrderType.SNIPER, triggered_at__isnull=True)
    triggered: list[UUID] = []
    for symbol in waiting.values_list("token_out", flat=True).distinct():
        launch = board.get(symbol)
        if launch is None or launch.launch_at > horizon:
            continue
        at = datetime.fromtimestamp(launch.launch_at, tz=UTC)
        with transaction.atomic():
            due = list(
                waiting.filter(token_out=symbol).select_for_update(skip_locked=True).values_list("id", flat=True)
            )
            Order.objects.filter(id__in=due).update(
                triggered_at=timezone.now(), next_check_at=stall_deadline(max(0.0, launch.launch_at - time.time()))
            )
            for order_id in due:
                after_commit(partial(execute_order_task.apply_async, (str(order_id),), eta=at))
        triggered += due
    if triggered:
        logger.info("%d sniper orders queued for their launch", len(triggered))
    return triggered
