"""The verbs that write orders: create, move through the state machine, execute, fail."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from orders import metrics
from orders.exceptions import AttemptTaken, InvalidTransition, NotCancellable, TooManyOpenOrders
from orders.models import Order, OrderEvent, OrderType
from orders.publisher import publish_order_event
from orders.states import CANCELLABLE, TERMINAL, Status, can_move

logger = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent notation."""
    return format(value.normalize(), "f")


@transaction.atomic
def order_create(
    *,
    account: AbstractBaseUser,
    token_in: str,
    token_out: str,
    amount: Decimal,
    type: str = OrderType.MARKET,
    slippage_bps: int = 50,
    limit_price: Decimal | None = None,
    expires_at: datetime | None = None,
    max_price: Decimal | None = None,
) -> Order:
    """Store a new order of `account` with its `pending` event. A market order is queued once
    committed; a limit or sniper order moves on to `waiting`, holding no worker until its price
    comes or its token launches.

    Raises TooManyOpenOrders when the account already has its maximum of unfinished orders.
    """
    from orders.tasks import execute_order_task

    # Locking the account serialises its concurrent requests, so two cannot both pass the cap.
    get_user_model().objects.select_for_update().filter(pk=account.pk).first()
    limit = settings.ORDER_MAX_OPEN_PER_ACCOUNT
    if Order.objects.filter(account=account).exclude(status__in=TERMINAL).count() >= limit:
        raise TooManyOpenOrders(limit)
    order = Order.objects.create(
        account=account,
        type=type,
        token_in=token_in,
        token_out=token_out,
        amount=amount,
        slippage_bps=slippage_bps,
        limit_price=limit_price,
        expires_at=expires_at,
        max_price=max_price,
        last_seq=1,
        next_check_at=stall_deadline(),
    )
    event = OrderEvent.objects.create(
        order=order, seq=1, status=Status.PENDING, data={"type": type}, created_at=order.created_at
    )
    logger.info("order placed: %s %s %s -> %s", type, amount, token_in, token_out, extra={"order_id": order.id})
    after_commit(publish_order_event, event)
    if type in (OrderType.LIMIT, OrderType.SNIPER):
        data: dict[str, Any] = {"expires_at": expires_at.isoformat()}
        if type == OrderType.LIMIT:
            data["limit_price"] = plain(limit_price)
        else:
            data["launch_of"] = token_out
            if max_price is not None:
                data["max_price"] = plain(max_price)
        _append_event(order, to=Status.WAITING, data=data, changes={"next_check_at": None})
        return order
    # The order is stored by now: a broker that refuses the task is logged, the client still gets
    # its 201, and the recovery job dispatches the order once the broker is back.
    after_commit(execute_order_task.delay, str(order.id))
    return order


def after_commit(func: Callable[..., Any], *args: Any) -> None:
    """Call func(*args) once the transaction commits; an error there is logged, never raised."""

    def call() -> None:
        func(*args)

    # Django's log line for a failed callback names it by __qualname__.
    call.__qualname__ = getattr(func, "__qualname__", None) or getattr(getattr(func, "func", None), "__qualname__", "")
    transaction.on_commit(call, robust=True)


def error_text(error: str) -> str:
    """An error message as stored: PostgreSQL text holds no NUL byte, and a page of it is enough."""
    return error.replace("\x00", "")[:ERROR_MAX_CHARS]


def stall_deadline(after_seconds: float = 0) -> datetime:
    """When the recovery job should re-drive an order that nothing has moved since now."""
    return timezone.now() + timedelta(seconds=after_seconds + settings.ORDER_STALL_SECONDS)


def _append_event(order: Order, *, to: Status, data: dict[str, Any], changes: dict[str, Any]) -> OrderEvent:
    """Move a locked order to `to`, append its next event and publish that after commit."""
    left, now = order.status, timezone.now()
    entered = OrderEvent.objects.filter(order=order, seq=order.last_seq).values_list("created_at", flat=True).first()
    order.status = to
    order.last_seq += 1
    order.next_check_at = None if to in TERMINAL else stall_deadline()
    for field, value in changes.items():
        setattr(order, field, value)
    order.save(update_fields=["status", "last_seq", "next_check_at", "updated_at", *changes])
    event = OrderEvent.objects.create(order=order, seq=order.last_seq, status=to, data=data, created_at=now)
    logger.info("order moved to %s (seq %d)", to, order.last_seq, extra={"order_id": order.id})
    after_commit(publish_order_event, event)
    after_commit(
        partial(
            metrics.record_transition,
            order_type=order.type,
            left=left,
            to=to,
            seconds_in_left=(now - entered).total_seconds() if entered else 0.0,
            e2e_seconds=(now - order.created_at).total_seconds() if to in TERMINAL else None,
        )
    )
    return event


@transaction.atomic
def order_transition(
    *,
    order_id: UUID | str,
    expected: Status,
    to: Status,
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
) -> OrderEvent:
    """The only way a status changes: from `expected`, along the table, with the next event.

    Raises InvalidTransition when the order has moved on meanwhile (a duplicate delivery) or the
    table forbids the move.
    """
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != expected or not can_move(order.status, to):
        raise InvalidTransition(order_id=order_id, current=order.status, expected=expected, to=to)
    return _append_event(order, to=to, data=data or {}, changes=changes or {})


@transaction.atomic
def order_begin_attempt(*, order_id: UUID | str, attempt: int) -> None:
    """Count attempt number `attempt` of an unfinished order before it does anything.

    The database counter, not the queue, bounds how often an order is tried, however often its
    task is delivered. Raises InvalidTransition when another delivery began this attempt first.
    """
    began = (
        Order.objects.filter(pk=order_id, attempts=attempt - 1)
        .exclude(status__in=TERMINAL)
        .update(attempts=attempt, next_check_at=stall_deadline(), updated_at=timezone.now())
    )
    if not began:
        raise AttemptTaken(order_id=order_id, attempt=attempt)


@transaction.atomic
def order_untrigger(*, order_id: UUID | str, attempt: int) -> None:
    """Send a triggered limit order back to waiting; the attempt it began does not count."""
    Order.objects.filter(pk=order_id, status=Status.WAITING, attempts=attempt).update(
        triggered_at=None, attempts=attempt - 1, next_check_at=None, updated_at=timezone.now()
    )


@transaction.atomic
def order_record_failure(*, order_id: UUID | str, attempt: int, error: str, retry_in: float) -> None:
    """Remember a failed attempt; the next attempt's routing event streams it."""
    order = Order.objects.select_for_update().get(pk=order_id)
    error = error_text(error)
    order.last_error = error
    order.failures = [*order.failures, {"attempt": attempt, "error": error, "at": timezone.now().isoformat()}]
    order.next_check_at = stall_deadline(retry_in)
    order.save(update_fields=["last_error", "failures", "next_check_at", "updated_at"])


@transaction.atomic
def order_postpone(*, order_id: UUID | str, seconds: float) -> None:
    """Keep the recovery job off an order that is waiting on purpose, for `seconds`."""
    Order.objects.filter(pk=order_id).exclude(status__in=TERMINAL).update(next_check_at=stall_deadline(seconds))


@transaction.atomic
def order_cancel(*, order_id: UUID | str, by: str) -> Order:
    """Cancel an order not yet submitted; cancelling a cancelled order again changes nothing.

    A worker holding the order finds it cancelled at its next step, which the state table
    refuses, so nothing is sent. Raises NotCancellable once the order is submitted or finished.
    """
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status == Status.CANCELLED:
        return order
    if order.status not in CANCELLABLE:
        raise NotCancellable(current=order.status)
    _append_event(order, to=Status.CANCELLED, data={"by": by, "from": order.status}, changes={})
    return order


@transaction.atomic
def order_fail(
    *, order_id: UUID | str, error: str, attempts: int, reason: dict[str, Any] | None = None
) -> OrderEvent | None:
    """Fail an order from whatever non-terminal status it is in; a finished order is left alone.

    `reason` is the structured cause clients can act on, such as {"code": "SLIPPAGE_EXCEEDED", ...}.
    """
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status in TERMINAL:
        return None
    error = error_text(error)
    data = {"error": error, "attempts": attempts, "failures": order.failures}
    if reason:
        data["reason"] = reason
    return _append_event(
        order,
        to=Status.FAILED,
        data=data,
        changes={"attempts": attempts, "last_error": error, "failure_reason": reason},
    )
