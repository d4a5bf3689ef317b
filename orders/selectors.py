"""Reads of orders and their events.

The reads behind every detail request and every subscriber (an order of an account, its status, its
events) are prepared statements written once (orders/prepared.py): compiling them in the ORM cost
more than running them.
"""

from collections.abc import Iterable
from functools import cache
from typing import NamedTuple
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet
from rest_framework.authtoken.models import Token

from orders.authentication import plausible_key
from orders.models import Order, OrderEvent
from orders.prepared import columns, instance, prepared_cursor, prepared_instances


def _of_account(selected: str) -> str:
    quote, meta = connection.ops.quote_name, Order._meta
    return (
        f"SELECT {selected} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.pk.column)} = %s AND {quote(meta.get_field('account').column)} = %s"
    )


@cache
def _order_of_account() -> str:
    return _of_account(columns(Order))


@cache
def _events_after() -> str:
    quote, meta = connection.ops.quote_name, OrderEvent._meta
    seq = quote(meta.get_field("seq").column)
    return (
        f"SELECT {columns(OrderEvent)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.get_field('order').column)} = %s AND {seq} > %s ORDER BY {seq}"
    )


@cache
def _stream_start() -> str:
    quote = connection.ops.quote_name
    user, token, order, event = get_user_model()._meta, Token._meta, Order._meta, OrderEvent._meta
    user_pk, order_pk, seq = quote(user.pk.column), quote(order.pk.column), quote(event.get_field("seq").column)
    return (
        f"SELECT {columns(get_user_model(), of='u')}, o.{quote(order.get_field('status').column)}, "
        f"{columns(OrderEvent, of='e')} FROM {quote(token.db_table)} t "
        f"JOIN {quote(user.db_table)} u ON u.{user_pk} = t.{quote(token.get_field('user').column)} "
        f"LEFT JOIN {quote(order.db_table)} o "
        f"ON o.{order_pk} = %s AND o.{quote(order.get_field('account').column)} = u.{user_pk} "
        f"LEFT JOIN {quote(event.db_table)} e ON e.{quote(event.get_field('order').column)} = o.{order_pk} "
        f"AND e.{seq} > %s WHERE t.{quote(token.pk.column)} = %s ORDER BY e.{seq}"
    )


def _order_pk(order_id: UUID | str) -> UUID:
    return Order._meta.pk.get_db_prep_value(order_id, connection)


def order_get(*, order_id: UUID | str) -> Order:
    return Order.objects.get(pk=order_id)


def order_exists(*, order_id: UUID | str, account: AbstractBaseUser) -> bool:
    """Whether the order exists and is `account`'s: another account's order does not, to it."""
    return Order.objects.filter(pk=order_id, account=account).exists()


def order_last_seqs(*, order_ids: Iterable[UUID | str]) -> dict[str, int]:
    """The seq of each order's latest stored event, by order id."""
    rows = Order.objects.filter(pk__in=list(order_ids)).values_list("pk", "last_seq")
    return {str(order_id): last_seq for order_id, last_seq in rows}


def order_list(*, account: AbstractBaseUser) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-created_at")


def order_detail_get(*, order_id: UUID | str, account: AbstractBaseUser) -> Order:
    """The order with its events read, as `prefetch_related("events")` leaves it: `order.events.all()`
    runs no query. Raises Order.DoesNotExist unless the order is `account`'s."""
    found = prepared_instances(Order, _order_of_account(), (_order_pk(order_id), account.pk))
    if not found:
        raise Order.DoesNotExist("No order with this id belongs to the account.")
    [order] = found
    # What prefetch_related stores, filled by the prepared read instead of a compiled one.
    events = order.events.all()
    events._result_cache, events._prefetch_done = order_events_after(order_id=order.pk), True
    order._prefetched_objects_cache = {Order.events.rel.cache_name: events}
    return order


class StreamStart(NamedTuple):
    """What a new subscriber is told by its one read."""

    account: AbstractBaseUser | None  # None for no key, an unknown one or an inactive account
    status: str | None = None  # the order's; None when the order is not the account's
    events: tuple[OrderEvent, ...] = ()  # the order's stored events after the seq asked for, in seq order


def order_stream_start(*, key: str | None, order_id: UUID | str, after: int) -> StreamStart:
    """The active account `key` is the token of, and its order's status and stored events after `after`.

    One statement, where the token, the status and the events were three: a subscriber waits for one
    round trip, and the status and the events come from one snapshot, so an order finished by then
    has its terminal event among them.
    """
    if not plausible_key(key):
        return StreamStart(None)
    with prepared_cursor() as cursor:
        cursor.execute(_stream_start(), (_order_pk(order_id), after, key))
        rows = cursor.fetchall()
    if not rows:
        return StreamStart(None)
    split = len(get_user_model()._meta.concrete_fields)
    account = instance(get_user_model(), rows[0][:split])
    if not account.is_active:
        return StreamStart(None)
    # An order without events after `after` (or none of the account's) leaves one row of NULLs for them.
    events = tuple(instance(OrderEvent, row[split + 1 :]) for row in rows if row[split + 1] is not None)
    return StreamStart(account, rows[0][split], events)


def order_events_after(*, order_id: UUID | str, after: int = 0) -> list[OrderEvent]:
    return prepared_instances(OrderEvent, _events_after(), (_order_pk(order_id), after))
