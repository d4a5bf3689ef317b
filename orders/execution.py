"""Executing a market order: settle what the chain already has, then route, build, submit, confirm.

Celery delivers a task at least once and the recovery job may re-drive an order whose worker
vanished, so two executions of one order can overlap. What keeps an order from swapping twice:
every status move is conditional on the status it expects; each attempt is counted in the
database before it starts; and no new transaction is sent while an earlier one of the order may
still land, which the chain settles for good once that transaction's blockhash expires.
"""

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any
from uuid import UUID

from django.conf import settings

from dex.errors import SlippageExceeded, VenueError
from dex.models import SwapResult, TxStatus
from dex.router import Router
from dex.tokens import TOKENS
from orders import metrics
from orders.exceptions import LimitNotReached, SwapInFlight
from orders.models import Order, OrderEvent
from orders.quoting import routing_data
from orders.selectors import order_get
from orders.services import (
    Step,
    order_begin_attempt,
    order_begin_first_attempt,
    order_fail,
    order_postpone,
    order_record_failure,
    order_transition,
    order_transitions,
    order_untrigger,
    plain,
)
from orders.states import TERMINAL, Status
from orders.venues import get_router

logger = logging.getLogger(__name__)

# Past a transaction's landing or expiry time before asking again, so the answer is final.
SETTLE_MARGIN = 0.05
# Quotes asked for again within one attempt when the best one has expired by the time it came.
QUOTE_REFRESHES = 3


def retry_countdown(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: 0.5, 1, 2... from ORDER_RETRY_BACKOFF.

    Celery's own retry_backoff rounds its factor to a whole second, too coarse for 0.5 s.
    """
    return settings.ORDER_RETRY_BACKOFF * 2 ** (attempt - 1)


def order_execute(*, order_id: UUID | str) -> float | None:
    """Take an order one attempt further; returns the seconds after which to run again, if any.

    Venue calls happen outside any transaction, so no row lock is held while one is in flight.
    Raises AttemptTaken or InvalidTransition when another delivery of the order got ahead.
    """
    router = get_router()
    order = order_begin_first_attempt(order_id=order_id)
    if order is not None:
        return _run_attempt(order, router, 1)
    order = order_get(order_id=order_id)
    if order.status in TERMINAL or (order.status == Status.WAITING and order.triggered_at is None):
        return None
    try:
        if _settle_sent(order, router):
            return None
    except SwapInFlight as waiting:
        order_postpone(order_id=order.id, seconds=waiting.seconds)
        return waiting.seconds
    if order.attempts >= settings.ORDER_MAX_ATTEMPTS:
        error = order.last_error or "no attempts left"
        order_fail(order_id=order.id, error=error, attempts=order.attempts, expected_seq=order.last_seq)
        return None

    attempt = order.attempts + 1
    order_begin_attempt(order_id=order.id, attempt=attempt)
    return _run_attempt(order, router, attempt)


def _run_attempt(order: Order, router: Router, attempt: int) -> float | None:
    """Run counted attempt `attempt`; returns the seconds after which to try again, if any."""
    try:
        _attempt(order, router, attempt)
    except LimitNotReached:
        order_untrigger(order_id=order.id, attempt=attempt)
    except SlippageExceeded as refused:
        _fail_for_slippage(order.id, attempt, refused)
    except VenueError as exc:
        metrics.count("venue_errors", exc.venue)
        return _attempt_failed(order.id, router, attempt, str(exc))
    return None


def _fail_for_slippage(order_id: UUID, attempts: int, refused: SlippageExceeded) -> None:
    """The market moved past the order's minimum: it fails for good, having swapped nothing."""
    reason = {
        "code": "SLIPPAGE_EXCEEDED",
        "expected": plain(refused.expected),
        "minimum": plain(refused.minimum),
        "actual": plain(refused.actual),
    }
    order_fail(order_id=order_id, error=str(refused), attempts=attempts, reason=reason)


def _decimals(symbol: str, router: Router) -> int:
    if symbol in TOKENS:
        return TOKENS[symbol].decimals
    return router.launches.get(symbol).token.decimals


def _fresh_route(order: Order, router: Router, key: str):
    """Quotes from every venue with the best one not yet expired; quoting again if it has."""
    waited = 0.0
    for refresh in range(QUOTE_REFRESHES):
        routing = router.route(order.token_in, order.token_out, order.amount, key=f"{key}:{refresh}")
        waited += routing.venue_seconds
        if not routing.best.expired(time.time()):
            return replace(routing, venue_seconds=waited)
    raise VenueError("router", f"quotes kept expiring before they could be used ({QUOTE_REFRESHES} tries)")


def _attempt(order: Order, router: Router, attempt: int) -> None:
    key = f"{order.id}:{attempt}"
    routing = _fresh_route(order, router, key)
    best = routing.best
    places = Decimal(1).scaleb(-_decimals(order.token_out, router))
    min_amount_out = (best.amount_out * (10_000 - order.slippage_bps) / 10_000).quantize(places, ROUND_DOWN)
    if order.limit_price is not None:
        # The limit is the least price: quoted below it the order waits on; executed, never below.
        limit_out = (order.amount * order.limit_price).quantize(places, ROUND_UP)
        if best.amount_out < limit_out:
            raise LimitNotReached
        min_amount_out = max(min_amount_out, limit_out)
    if order.max_price is not None:
        min_amount_out = max(min_amount_out, (order.amount / order.max_price).quantize(places, ROUND_UP))
    # Time inside venue calls, so what an order spends in the engine itself can be told apart.
    event: dict[str, Any] = {"attempt": attempt, "venue_ms": _ms(routing.venue_seconds), **routing_data(routing)}
    chosen = event["route"]
    for venue in routing.errors:
        metrics.count("venue_errors", venue)
    if attempt > 1:
        event["last_error"] = order.last_error
    routed = Step(
        Status.ROUTING,
        event,
        {"venue": "", "tx_hash": "", "tx_valid_until": None, "route": chosen},
    )
    try:
        # One transaction for the whole route, with one signature, as an aggregator sends it.
        tx = router.build_swap(best, order_id=str(order.id), key=key, min_amount_out=min_amount_out)
    except VenueError:
        # The attempt's quotes are stored all the same, for whoever looks into why it failed.
        _move_run(order, [routed])
        raise
    swaps = [f"swap {plain(leg.amount_in)} {leg.token_in} for {leg.token_out} on {leg.venue}" for leg in best.legs]
    built = Step(
        Status.BUILDING,
        {
            "venue": best.venue,
            "route_kind": best.kind,
            "quote_id": best.quote_id,
            "expected_amount_out": plain(best.amount_out),
            "min_amount_out": plain(min_amount_out),
            "slippage_bps": order.slippage_bps,
            "wrap_sol": tx.wraps_sol,
            "steps": (["wrap SOL to wSOL"] if tx.wraps_sol else []) + swaps,
            "legs": chosen["legs"],
        },
        {"venue": best.venue, "expected_amount_out": best.amount_out, "min_amount_out": min_amount_out},
    )
    submitted = Step(
        Status.SUBMITTED,
        {"tx_hash": tx.signature, "venue": best.venue},
        {"tx_hash": tx.signature, "tx_valid_until": datetime.fromtimestamp(tx.valid_until, tz=UTC)},
    )
    # Building a transaction asks no venue, so the three moves are stored together, in one commit,
    # each with its event. Stored before it is sent: whoever looks at the order next knows this
    # transaction may land.
    _move_run(order, [routed, built, submitted])
    sent_at = time.monotonic()
    swap = router.submit(tx, key=key)
    _confirm(order_id=order.id, expected=Status.SUBMITTED, swap=swap, venue_seconds=time.monotonic() - sent_at)


def _move_run(order: Order, steps: list[Step]) -> None:
    # From the very event the chain was checked against: a transaction stored since may still land.
    order_transitions(order_id=order.id, expected=Status(order.status), expected_seq=order.last_seq, steps=steps)


def _attempt_failed(order_id: UUID, router: Router, attempt: int, error: str) -> float | None:
    """Record the failure; returns when to try again, or None once the order has failed."""
    logger.warning("order %s attempt %s failed: %s", order_id, attempt, error)
    retry_in = retry_countdown(attempt)
    order_record_failure(order_id=order_id, attempt=attempt, error=error, retry_in=retry_in)
    if attempt < settings.ORDER_MAX_ATTEMPTS:
        metrics.count("retries")
        return retry_in
    # The last attempt's transaction may still land: the order is failed only once it cannot.
    order = order_get(order_id=order_id)
    try:
        if _settle_sent(order, router):
            return None
    except SwapInFlight as waiting:
        order_postpone(order_id=order_id, seconds=waiting.seconds)
        return waiting.seconds
    order_fail(order_id=order_id, error=error, attempts=attempt, expected_seq=order.last_seq)
    return None


def _settle_sent(order: Order, router: Router) -> bool:
    """Confirm the order if a transaction of it landed, fail it if its last one was refused for
    slippage; True if it is finished so.

    The order id is the chain's idempotency key: this asks for every transaction of the order,
    not only the last one stored. Raises SwapInFlight while one may still land, including one
    stored as submitted that the chain has not seen yet, which its sender may still send.
    """
    now = time.time()
    sent = router.transactions_for(str(order.id))
    landed = [tx for tx in sent if tx.status(now) is TxStatus.LANDED]
    if landed:
        if len(landed) > 1:
            logger.error("order %s has %d landed swaps", order.id, len(landed))
        _confirm(order_id=order.id, expected=Status(order.status), swap=landed[0].result)
        return True
    refused = [tx for tx in sent if tx.status(now) is TxStatus.REFUSED and tx.signature == order.tx_hash]
    if refused:
        # Its sender did not live to record it: the swap was refused for slippage.
        expected = order.expected_amount_out
        tx = refused[0]
        _fail_for_slippage(
            order.id,
            order.attempts,
            SlippageExceeded(expected=expected, minimum=tx.min_amount_out, actual=tx.refused_out),
        )
        return True
    may_land = [tx.lands_at for tx in sent if tx.status(now) is TxStatus.PENDING]
    if order.tx_hash and order.tx_valid_until and all(tx.signature != order.tx_hash for tx in sent):
        may_land.append(order.tx_valid_until.timestamp())
    if may_land and max(may_land) > now:
        raise SwapInFlight(max(may_land) - now + SETTLE_MARGIN)
    return False


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _confirm(*, order_id: UUID, expected: Status, swap: SwapResult, venue_seconds: float | None = None) -> OrderEvent:
    data: dict[str, Any] = {} if venue_seconds is None else {"venue_ms": _ms(venue_seconds)}
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
            "legs": list(swap.legs),
            **data,
        },
        changes={
            "tx_hash": swap.signature,
            "venue": swap.venue,
            "executed_price": swap.price,
            "amount_out": swap.amount_out,
        },
    )
