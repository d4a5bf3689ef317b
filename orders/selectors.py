"""Reads of orders and their events.

The reads behind every detail request and every subscriber (an order of an account, its status, its
events) are prepared statements written once (orders/prepared.py): compiling them in the ORM cost
more than running them.
"""

from collections.abc import Iterable
from functools import cache
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet

from orders.models import Order, OrderEvent
from orders.prepared import columns, prepared_cursor, prepared_instances


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
def _status_of_account() -> str:
    return _of_account(connection.ops.quote_name(Order._meta.get_field("status").column))


@cache
def _events_after() -> str:
    quote, meta = connection.ops.quote_name, OrderEvent._meta
    seq = quote(meta.get_field("seq").column)
    return (
        f"SELECT {columns(OrderEvent)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.get_field('order').column)} = %s AND {seq} > %s ORDER BY {seq}"
    )


def _order_pk(order_id: UUID | str) -> UUID:
    return Order._meta.pk.get_db_prep_value(order_id, connection)


def order_get(*, order_id: UUID | str) -> Order:
    return Order.objects.get(pk=order_id)


def order_exists(*, order_id: UUID | str, account: AbstractBaseUser) -> bool:
    """Whether the order exists and is `account`'s: another account's order does not, to it."""
    return Order.objects.filter(pk=order_id, account=account).exists()


def order_status_of(*, order_id: UUID | str, account: AbstractBaseUser) -> str | None:
    """The order's status, if it is `account`'s; None for another account's order, as for no order."""
    with prepared_cursor() as cursor:
        cursor.execute(_status_of_account(), (_order_pk(order_id), account.pk))
        row = cursor.fetchone()
    return None if row is None else row[0]


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


def order_events_after(*, order_id: UUID | str, after: int = 0) -> list[OrderEvent]:
    return prepared_instances(OrderEvent, _events_after(), (_order_pk(order_id), after))
