"""Reads of orders and their events."""

from uuid import UUID

from django.db.models import QuerySet

from orders.models import Order, OrderEvent


def order_get(*, order_id: UUID | str) -> Order:
    return Order.objects.get(pk=order_id)


def order_exists(*, order_id: UUID | str) -> bool:
    return Order.objects.filter(pk=order_id).exists()


def order_list() -> QuerySet[Order]:
    return Order.objects.order_by("-created_at")


def order_detail_get(*, order_id: UUID | str) -> Order:
    return Order.objects.prefetch_related("events").get(pk=order_id)


def order_events_after(*, order_id: UUID | str, after: int = 0) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order_id=order_id, seq__gt=after).order_by("seq"))
