"""Filters of the order history."""

import django_filters

from orders.models import Order, OrderType
from orders.states import Status


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    type = django_filters.ChoiceFilter(choices=OrderType.choices)
    tokenIn = django_filters.CharFilter(field_name="token_in")
    tokenOut = django_filters.CharFilter(field_name="token_out")
    createdAfter = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    createdBefore = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "type", "tokenIn", "tokenOut", "createdAfter", "createdBefore"]
