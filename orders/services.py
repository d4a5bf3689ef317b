"""The verbs that write orders: create, move through the state machine, execute, fail."""

import logging
from decimal import Decimal
from functools import partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from dex.models import Quote, SwapResult
from orders.exceptions import InvalidTransition, TooManyOpenOrders
from orders.models import Order, OrderEvent, OrderType
from orders.publisher import publish_order_event
from orders.selectors import order_get
from orders.states import TERMINAL, Status, can_move
from orders.venues import get_router

logger = logging.getLogger(__name__)


def plain(value: Decimal) -> str:
    """A decimal as a plain string, never in exponent notation."""
    return format(value.normalize(), "f")


@transaction.atomic
def order_create(
    *, account: AbstractBaseUser, token_in: str, token_out: str, amount: Decimal, type: str = OrderType.MARKET
) -> Order:
    """Store a new order of `account` with its `pending` event; it is queued once committed.

    Raises TooManyOpenOrders when the account already has its maximum of unfinished orders.
    """
    from orders.tasks import execute_order_task

    # Locking the account serialises its concurrent requests, so two cannot both pass the cap.
    get_user_model().objects.select_for_update().filter(pk=account.pk).first()
    limit = settings.ORDER_MAX_OPEN_PER_ACCOUNT
    if Order.objects.filter(account=account).exclude(status__in=TERMINAL).count() >= limit:
        raise TooManyOpenOrders(limit)
    order = Order.objects.create(
        account=account, type=type, token_in=token_in, token_out=token_out, amount=amount, last_seq=1
    )
    event = OrderEvent.objects.create(
        order=order, seq=1, status=Status.PENDING, data={"type": type}, created_at=order.created_at
    )
    # robust: the order is stored by now, so a broker that refuses the task is logged, and the
    # client still gets its 201 and its order id rather than a 500 for an order that exists.
    transaction.on_commit(partial(publish_order_event, event), robust=True)
    transaction.on_commit(partial(execute_order_task.delay, str(order.id)), robust=True)
    return order


def _append_event(order: Order, *, to: Status, data: dict[str, Any], changes: dict[str, Any]) -> OrderEvent:
    """Move a locked order to `to`, append its next event and publish that after commit."""
    order.status = to
    order.last_seq += 1
    for field, value in changes.items():
        setattr(order, field, value)
    order.save(update_fields=["status", "last_seq", "updated_at", *changes])
    event = OrderEvent.objects.create(order=order, seq=order.last_seq, status=to, data=data, created_at=timezone.now())
    transaction.on_commit(partial(publish_order_event, event), robust=True)
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
def order_record_failure(*, order_id: UUID | str, attempt: int, error: str) -> None:
    """Remember a failed attempt; the next attempt's routing event streams it."""
    order = Order.objects.select_for_update().get(pk=order_id)
    order.attempts = attempt
    order.last_error = error
    order.failures = [*order.failures, {"attempt": attempt, "error": error, "at": timezone.now().isoformat()}]
    order.save(update_fields=["attempts", "last_error", "failures", "updated_at"])


@transaction.atomic
def order_fail(*, order_id: UUID | str, error: str, attempts: int) -> OrderEvent | None:
    """Fail an order from whatever non-terminal status it is in; a finished order is left alone."""
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status in TERMINAL:
        return None
    return _append_event(
        order,
        to=Status.FAILED,
        data={"error": error, "attempts": attempts, "failures": order.failures},
        changes={"attempts": attempts, "last_error": error},
    )


def quote_data(quote: Quote) -> dict[str, Any]:
    return {
        "venue": quote.venue,
        "price": plain(quote.price),
        "fee_rate": plain(quote.fee_rate),
        "fee": plain(quote.fee),
        "amount_out": plain(quote.amount_out),
    }


def order_execute(*, order_id: UUID | str, attempt: int) -> None:
    """Run one attempt of a market order: route, build, submit, confirm.

    Venue calls happen outside any transaction, so no row lock is held while one is in flight.
    Raises VenueError on a transient venue failure, for the caller to retry, and
    InvalidTransition when another delivery of the same order has moved it on.
    """
    order = order_get(order_id=order_id)
    if order.status in TERMINAL:
        return
    router = get_router()
    key = f"{order.id}:{attempt}"

    # A swap submitted by an earlier attempt may have landed although its answer was lost:
    # ask the venue before routing again, so an order never swaps twice.
    if order.tx_hash:
        landed = router.venue(order.venue).get_status(order.tx_hash)
        if landed is not None:
            _confirm(order_id=order.id, expected=Status(order.status), swap=landed, attempt=attempt)
            return

    routing = router.route(order.token_in, order.token_out, order.amount, key=key)
    best = routing.best
    routing_data: dict[str, Any] = {
        "attempt": attempt,
        "quotes": [quote_data(quote) for quote in routing.quotes],
        "chosen": best.venue,
    }
    if routing.errors:
        routing_data["venue_errors"] = routing.errors
    if attempt > 1:
        routing_data["last_error"] = order.last_error
    order_transition(
        order_id=order.id,
        expected=Status(order.status),
        to=Status.ROUTING,
        data=routing_data,
        changes={"attempts": attempt, "venue": "", "tx_hash": ""},
    )

    venue = router.venue(best.venue)
    tx = venue.build_swap(best, order_id=str(order.id), key=key)
    order_transition(
        order_id=order.id,
        expected=Status.ROUTING,
        to=Status.BUILDING,
        data={
            "venue": best.venue,
            "expected_amount_out": plain(best.amount_out),
            "wrap_sol": tx.wraps_sol,
            "steps": (["wrap SOL to wSOL"] if tx.wraps_sol else []) + [f"swap on {best.venue}"],
        },
        changes={"venue": best.venue, "expected_amount_out": best.amount_out},
    )
    # The signature is stored before the transaction is sent, so a retry can always ask for it.
    order_transition(
        order_id=order.id,
        expected=Status.BUILDING,
        to=Status.SUBMITTED,
        data={"tx_hash": tx.signature, "venue": best.venue},
        changes={"tx_hash": tx.signature},
    )
    swap = venue.submit(tx, key=key)
    _confirm(order_id=order.id, expected=Status.SUBMITTED, swap=swap, attempt=attempt)


def _confirm(*, order_id: UUID, expected: Status, swap: SwapResult, attempt: int) -> OrderEvent:
    return order_transition(
        order_id=order_id,
        expected=expected,
        to=Status.CONFIRMED,
        data={
            "tx_hash": swap.signature,
            "venue": swap.venue,
            "executed_price": plain(swap.price),
            "amount_out": plain(swap.amount_out),
            "slot": swap.slot,
        },
        changes={
            "attempts": attempt,
            "tx_hash": swap.signature,
            "venue": swap.venue,
            "executed_price": swap.price,
            "amount_out": swap.amount_out,
        },
    )
