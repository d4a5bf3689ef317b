"""factory_boy factories for orders and their events."""

from decimal import Decimal

import factory
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.states import Status


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    token_in = "SOL"
    token_out = "USDC"
    amount = Decimal("10")
    status = Status.PENDING


class OrderEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderEvent

    order = factory.SubFactory(OrderFactory)
    seq = factory.Sequence(lambda n: n + 1)
    status = Status.PENDING
    data = factory.Dict({})
    created_at = factory.LazyFunction(timezone.now)
