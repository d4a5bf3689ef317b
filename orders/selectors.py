"""Reads of orders and their events."""

from collections.abc import Iterable
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from orders.models import Order, OrderEvent


def order_get(*, order_id: UUID | str) -> Order:
    return Order.objects.get(pk=order_id)


def order_exists(*, order_id: UUID | str, account: AbstractBaseUser) -> bool:
    """Whether the order exists and is `account`'s: another account's order does not, to it."""
    return Order.objects.filter(pk=order_id, account=account).exists()


def order_status_of(*, order_id: UUID | str, account: AbstractBaseUser) -> str | None:
    """The order's status, if it is `account`'s; None for another account's order, as for no order."""
    return Order.objects.filter(pk=order_id, account=account).values_list("status", flat=True).first()


def order_last_seqs(*, order_ids: Iterable[UUID | str]) -> dict[str, int]:
    """The seq of each order's latest stored event, by order id."""
    rows = Order.objects.filter(pk__in=list(order_ids)).values_list("pk", "last_seq")
    return {str(order_id): last_seq for order_id, last_seq in rows}


def order_list(*, account: AbstractBaseUser) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-created_at")


def order_detail_get(*, order_id: UUID | str, account: AbstractBaseUser) -> Order:
    return Order.objects.prefetch_related("events").get(pk=order_id, account=account)


def order_events_after(*, order_id: UUID | str, after: int = 0) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order_id=order_id, seq__gt=after).order_by("seq"))
