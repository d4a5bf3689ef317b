"""factory_boy factories for orders and their events."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from orders.models import Order, OrderEvent
from orders.states import Status


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"account{n}")


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token

    user = factory.SubFactory(AccountFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(AccountFactory)
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
