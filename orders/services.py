"""The verbs that write orders: create, move through the state machine, execute, fail."""

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import sql
from django.utils import timezone

from orders import metrics
from orders.background import run_in_background
from orders.exceptions import AttemptTaken, InvalidTransition, NotCancellable, TooManyOpenOrders
from orders.models import Order, OrderEvent, OrderType
from orders.prepared import columns, prepared_cursor, prepared_instances
from orders.publisher import publish_order_event, publish_order_events
from orders.states import CANCELLABLE, OPEN, TERMINAL, Status, can_move

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

    # Locking the account serialises its concurrent requests, so two cannot both pass the cap. The
    # count runs in the next statement, begun once the lock is granted: it sees every order
    # committed while the lock was awaited.
    _lock_account(account)
    order = Order(
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
    event = OrderEvent(order=order, seq=1, status=Status.PENDING, data={"type": type})
    limit = settings.ORDER_MAX_OPEN_PER_ACCOUNT
    if _insert_counting_open(order, event) >= limit:
        raise TooManyOpenOrders(limit)
    logger.info("order placed: %s %s %s -> %s", type, amount, token_in, token_out, extra={"order_id": order.id})
    if type in (OrderType.LIMIT, OrderType.SNIPER):
        after_commit(publish_order_event, event, background=True)
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
    # its 201, and the recovery job dispatches the order once the broker is back. The task goes
    # first, so the worker starts while `pending` is being published; a subscriber that gets
    # `routing` before `pending` fills the gap from the database (OrderStreamConsumer).
    after_commit(execute_order_task.delay, str(order.id))
    after_commit(publish_order_event, event, background=True)
    return order


@cache
def _lock_account_sql() -> str:
    quote, meta = connection.ops.quote_name, get_user_model()._meta
    return f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s FOR UPDATE"


def _lock_account(account: AbstractBaseUser) -> None:
    """Lock the account's row until the transaction ends; prepared, where the ORM's query took longer to
    compile than to run."""
    with prepared_cursor() as cursor:
        cursor.execute(_lock_account_sql(), (account.pk,))


def _insert_sql(obj: Order | OrderEvent) -> tuple[str, tuple]:
    """The ORM's own INSERT of `obj`, its fields' defaults and conversions applied; a serial id is left
    to the database.

    The statement is compiled once per model: its text names the same columns for every instance, and
    compiling it took longer than the rest of the insert. The values go through what the compiler
    calls for each field (SQLInsertCompiler.pre_save_val and prepare_value), none being an expression.
    """
    statement, fields = _insert_statement(type(obj))
    return statement, tuple(field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields)


@cache
def _insert_statement(model: type[Order] | type[OrderEvent]) -> tuple[str, tuple]:
    meta = model._meta
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    query = sql.InsertQuery(model)
    query.insert_values(fields, [model()])
    [(statement, _)] = query.get_compiler(connection=connection).as_sql()
    return statement, fields


@cache
def _count_open_sql() -> str:
    """The count of an account's open orders, its statuses written into the statement as constants.

    Passed as a parameter, they left the planner blind to them whenever it planned the prepared
    statement without its values, or with statistics from when most orders were open: it then read
    every order of the account (about a thousand rows an order in `python -m bench capacity`). Written out, they
    match order_account_open_idx, which holds the open orders alone.
    """
    meta = Order._meta
    quote = connection.ops.quote_name
    statuses = ", ".join(f"'{status}'" for status in OPEN)  # the enum's own values, never a client's
    return (
        f"SELECT count(*) FROM {quote(meta.db_table)} WHERE {quote(meta.get_field('account').column)} = %s "
        f"AND {quote(meta.get_field('status').column)} IN ({statuses})"
    )


def _insert_counting_open(order: Order, event: OrderEvent) -> int:
    """Insert a new order and its first event, and count the account's other open orders, in one
    statement; the count is of the orders committed before it began, so it leaves this one out."""
    order_sql, order_params = _insert_sql(order)  # stamps created_at
    event.created_at = order.created_at
    event_sql, event_params = _insert_sql(event)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"WITH new_order AS ({order_sql}), new_event AS ({event_sql} RETURNING id) "
            f"SELECT (SELECT id FROM new_event), ({_count_open_sql()})",
            (*order_params, *event_params, order.account_id),
        )
        event.id, open_before = cursor.fetchone()
    for obj in (order, event):
        obj._state.adding, obj._state.db = False, connection.alias
    return open_before


def after_commit(func: Callable[..., Any], *args: Any, background: bool = False) -> None:
    """Call func(*args) once the transaction commits; an error there is logged, never raised.

    `background`: on the process's background thread, in order with the other side effects handed
    over there (orders.background), so that the caller goes on meanwhile.
    """

    def call() -> None:
        if background:
            run_in_background(func, *args)
        else:
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
    events = _move(order_id=order.id, expected=Status(order.status), steps=[Step(to, data, changes)], order=order)
    if events is None:  # the row is locked by this transaction: nothing can have moved it meanwhile
        raise InvalidTransition(order_id=order.id, current=order.status, expected=order.status, to=to)
    return events[0]


@dataclasses.dataclass(frozen=True)
class Step:
    """One status move: the status moved to, its event's data and the order's fields it sets."""

    to: Status
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    changes: dict[str, Any] = dataclasses.field(default_factory=dict)


def _move_sql(
    *, order_id: UUID | str, expected: Status, expected_seq: int | None, values: dict[str, Any], steps: int
) -> tuple[str, list[Any]]:
    """One statement that moves the order through `steps` moves and appends their events, so a
    move, or a run of them, is one round trip and one commit.

    The UPDATE's condition on the status is what makes a move exclusive: of two concurrent moves
    from the same status, the second waits for the first's row lock, re-checks and matches nothing.
    The SQL is written here rather than compiled by the ORM, which costs more than the statement.
    The events' rows follow as parameters, four per step: its place in the run, status, data, time.
    """
    quote, meta = connection.ops.quote_name, Order._meta
    orders, events = quote(meta.db_table), quote(OrderEvent._meta.db_table)
    assignments, params = [f"{quote('last_seq')} = {quote('last_seq')} + {steps:d}"], []
    for name, value in values.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    params += [meta.pk.get_db_prep_value(order_id, connection), str(expected)]
    at_seq = ""
    if expected_seq is not None:
        at_seq = " AND last_seq = %s"
        params.append(expected_seq)
    rows = ", ".join(["(%s::integer, %s::text, %s::jsonb, %s::timestamptz)"] * steps)
    sql = (
        f"WITH moved AS (UPDATE {orders} SET {', '.join(assignments)} WHERE id = %s AND status = %s{at_seq} "
        f"RETURNING id, last_seq, type, created_at, "
        f"(SELECT created_at FROM {events} WHERE order_id = {orders}.id AND seq = {orders}.last_seq - {steps:d}) "
        "AS entered), "
        f"event AS (INSERT INTO {events} (order_id, seq, status, data, created_at) "
        f"SELECT moved.id, moved.last_seq - {steps:d} + step.n, step.status, step.data, step.at "
        f"FROM moved, (VALUES {rows}) AS step (n, status, data, at) RETURNING id, seq) "
        "SELECT event.id, event.seq, moved.type, moved.created_at, moved.entered FROM moved, event ORDER BY event.seq"
    )
    return sql, params


def _move(
    *,
    order_id: UUID | str,
    expected: Status,
    steps: Sequence[Step],
    expected_seq: int | None = None,
    order: Order | None = None,
) -> list[OrderEvent] | None:
    """Move the order from `expected` (at event `expected_seq`, if given) through `steps`, an event
    each; None if it is not there.

    `order`, the caller's copy of the row, if any, is updated to match it.
    """
    now = timezone.now()
    final = steps[-1].to
    values = {"status": final, "next_check_at": None if final in TERMINAL else stall_deadline(), "updated_at": now}
    for step in steps:
        values.update(step.changes)
    sql, params = _move_sql(
        order_id=order_id, expected=expected, expected_seq=expected_seq, values=values, steps=len(steps)
    )
    data_field, created_field = OrderEvent._meta.get_field("data"), OrderEvent._meta.get_field("created_at")
    at = created_field.get_db_prep_save(now, connection)
    for n, step in enumerate(steps, start=1):
        params += [n, str(step.to), data_field.get_db_prep_save(step.data, connection), at]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    if order is not None:
        for name, value in values.items():
            setattr(order, name, value)
        order.last_seq = rows[-1][1]
    order_id = UUID(str(order_id))
    events = [
        OrderEvent(id=event_id, order_id=order_id, seq=seq, status=step.to, data=step.data, created_at=now)
        for step, (event_id, seq, *_) in zip(steps, rows, strict=True)
    ]
    # The run's events in one publish, then their metrics in one round trip, on the background thread.
    after_commit(publish_order_events, events, background=True)
    transitions, left = [], expected
    for n, (step, (_, seq, _, created_at, entered)) in enumerate(zip(steps, rows, strict=True)):
        logger.info("order moved to %s (seq %d)", step.to, seq, extra={"order_id": order_id})
        transitions.append(
            metrics.Transition(
                left=left,
                to=step.to,
                # Within a run, each status after the first is left in the statement that entered it.
                seconds_in_left=(now - entered).total_seconds() if entered and n == 0 else 0.0,
                e2e_seconds=(now - created_at).total_seconds() if step.to in TERMINAL else None,
            )
        )
        left = step.to
    after_commit(partial(metrics.record_transitions, order_type=rows[0][2], transitions=transitions), background=True)
    return events


def order_transition(
    *,
    order_id: UUID | str,
    expected: Status,
    to: Status,
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    expected_seq: int | None = None,
) -> OrderEvent:
    """The only way a status changes: from `expected`, along the table, with the next event.

    One statement, atomic on its own: the order moves only from `expected`, and its event gets the
    next seq. With `expected_seq`, only from that very event: an order that left `expected` and came
    back to it since the caller read it (submitted again, by another delivery) does not move.
    Raises InvalidTransition when the order has moved on meanwhile (a duplicate delivery) or the
    table forbids the move.
    """
    [event] = order_transitions(
        order_id=order_id,
        expected=expected,
        steps=[Step(to, data or {}, changes or {})],
        expected_seq=expected_seq,
    )
    return event


def order_transitions(
    *,
    order_id: UUID | str,
    expected: Status,
    steps: Sequence[Step],
    expected_seq: int | None = None,
) -> list[OrderEvent]:
    """order_transition for a run of moves made at once: each along the table, each with its event,
    all in one statement and one commit. Either the order makes every move, or none.

    Raises InvalidTransition as order_transition does, naming the move that the table forbids or the
    first one when the order has moved on meanwhile.
    """
    left = expected
    for step in steps:
        if not can_move(left, step.to):
            raise _refused(order_id, expected=left, to=step.to)
        left = step.to
    events = _move(order_id=order_id, expected=expected, steps=steps, expected_seq=expected_seq)
    if events is None:
        raise _refused(order_id, expected=expected, to=steps[0].to)
    return events


def _refused(order_id: UUID | str, *, expected: Status, to: Status) -> Exception:
    current = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
    if current is None:
        return Order.DoesNotExist(f"order {order_id} does not exist")
    return InvalidTransition(order_id=order_id, current=current, expected=expected, to=to)


def order_begin_attempt(*, order_id: UUID | str, attempt: int) -> None:
    """Count attempt number `attempt` of an unfinished order before it does anything.

    The database counter, not the queue, bounds how often an order is tried, however often its
    task is delivered. Raises InvalidTransition when another delivery began this attempt first.
    One conditional UPDATE, atomic on its own.
    """
    began = (
        Order.objects.filter(pk=order_id, attempts=attempt - 1)
        .exclude(status__in=TERMINAL)
        .update(attempts=attempt, next_check_at=stall_deadline(), updated_at=timezone.now())
    )
    if not began:
        raise AttemptTaken(order_id=order_id, attempt=attempt)


def order_begin_first_attempt(*, order_id: UUID | str) -> Order | None:
    """Count the first attempt of a pending order never tried before, and return the order as counted;
    None for any other order, which order_begin_attempt takes after a look at the chain.

    One statement, where the general path reads the order, asks the chain, then counts: an order
    with no attempt counted has sent nothing, as a transaction is only ever sent within a counted
    attempt, so there is nothing to settle first.
    """
    quote, meta = connection.ops.quote_name, Order._meta
    sql = (
        f"UPDATE {quote(meta.db_table)} SET attempts = 1, next_check_at = %s, updated_at = %s "
        f"WHERE id = %s AND status = %s AND attempts = 0 RETURNING {columns(Order)}"
    )
    params = [stall_deadline(), timezone.now(), meta.pk.get_db_prep_value(order_id, connection), str(Status.PENDING)]
    counted = prepared_instances(Order, sql, params)
    return counted[0] if counted else None


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
    *,
    order_id: UUID | str,
    error: str,
    attempts: int,
    reason: dict[str, Any] | None = None,
    expected_seq: int | None = None,
) -> OrderEvent | None:
    """Fail an order from whatever non-terminal status it is in; a finished order is left alone.

    `reason` is the structured cause clients can act on, such as {"code": "SLIPPAGE_EXCEEDED", ...}.
    With `expected_seq`, the last event of the order when the caller found that none of its
    transactions may land, the order fails only if nothing has moved it since: another delivery
    may have stored a transaction meanwhile, and be sending it. Raises InvalidTransition then.
    """
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status in TERMINAL:
        return None
    if expected_seq is not None and order.last_seq != expected_seq:
        raise InvalidTransition(order_id=order_id, current=order.status, expected=order.status, to=Status.FAILED)
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
