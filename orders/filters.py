"""Filters of the order history."""

import django_filters
from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from dex.tokens import SYMBOLS
from orders.models import Order, OrderType
from orders.states import Status


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    type = django_filters.ChoiceFilter(choices=OrderType.choices)
    # A symbol of the registry, as an order takes; an unknown one is a 400, not an empty page.
    tokenIn = django_filters.ChoiceFilter(field_name="token_in", choices=[(symbol, symbol) for symbol in SYMBOLS])
    tokenOut = django_filters.ChoiceFilter(field_name="token_out", choices=[(symbol, symbol) for symbol in SYMBOLS])
    createdAfter = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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
