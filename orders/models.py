"""Orders and the append-only history of their status changes."""

import uuid

from django.conf import settings
from django.db import models

from orders.states import Status

AMOUNT = {"max_digits": 38, "decimal_places": 18}


class OrderType(models.TextChoices):
    MARKET = "market"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    type = models.CharField(max_length=16, choices=OrderType.choices, default=OrderType.MARKET)
    token_in = models.CharField(max_length=16)
    token_out = models.CharField(max_length=16)
    amount = models.DecimalField(**AMOUNT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_seq = models.PositiveIntegerField(default=0)

    venue = models.CharField(max_length=16, blank=True)
    tx_hash = models.CharField(max_length=128, blank=True)
    expected_amount_out = models.DecimalField(**AMOUNT, null=True, blank=True)
    amount_out = models.DecimalField(**AMOUNT, null=True, blank=True)
    executed_price = models.DecimalField(**AMOUNT, null=True, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # One entry per failed attempt: {"attempt", "error", "at"}.
    failures = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="order_created_idx"),
            models.Index(fields=["account", "-created_at"], name="order_account_created_idx"),
            models.Index(fields=["account", "status"], name="order_account_status_idx"),
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            models.Index(fields=["tx_hash"], name="order_tx_hash_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=~models.Q(token_in=models.F("token_out")), name="order_tokens_differ"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.amount} {self.token_in}->{self.token_out} ({self.status})"


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "seq"]
        constraints = [models.UniqueConstraint(fields=["order", "seq"], name="order_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.order_id} #{self.seq} {self.status}"
