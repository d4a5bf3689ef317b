"""Filters of the order history."""

from datetime import UTC, datetime

import django_filters
from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from dex.tokens import SYMBOLS
from orders.models import Order, OrderType
from orders.states import Status


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time, compared as the same instant in UTC.

    ISO 8601 and Python allow UTC offsets up to 23:59, PostgreSQL only up to 15:59 (and answers a
    larger one with an error), so the value goes to the database in UTC. An instant before year 1
    or after year 9999 in UTC is clamped to the first or last one there is.
    """

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                value = (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)
        return super().filter(qs, value)


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    type = django_filters.ChoiceFilter(choices=OrderType.choices)
    # A symbol of the registry, as an order takes; an unknown one is a 400, not an empty page.
    tokenIn = django_filters.ChoiceFilter(field_name="token_in", choices=[(symbol, symbol) for symbol in SYMBOLS])
    tokenOut = django_filters.ChoiceFilter(field_name="token_out", choices=[(symbol, symbol) for symbol in SYMBOLS])
    createdAfter = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "type", "tokenIn", "tokenOut", "createdAfter", "createdBefore"]


class EmptyValueMeansNoFilter(DjangoFilterExtension):
    """django-filter skips a filter whose value is empty (`?status=`), so the schema allows one."""

    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs) -> list[dict]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters
