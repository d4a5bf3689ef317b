"""Orders, the append-only history of their status changes, and the idempotency keys of requests."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from orders.states import OPEN, Status

AMOUNT = {"max_digits": 38, "decimal_places": 18}


class OrderType(models.TextChoices):
    MARKET = "market"
    LIMIT = "limit"
    SNIPER = "sniper"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed on its own: the account's indexes below all begin with it, and one index fewer is
    # one fewer to write on every insert and every status move.
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    type = models.CharField(max_length=16, choices=OrderType.choices, default=OrderType.MARKET)
    token_in = models.CharField(max_length=16)
    token_out = models.CharField(max_length=16)
    amount = models.DecimalField(**AMOUNT)
    # A limit order: the least price (token_out per token_in, fees deducted) it executes at, until
    # when it waits for it, and when the price was seen to reach it.
    limit_price = models.DecimalField(**AMOUNT, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # A sniper order: the most it pays, in token_in per unit of token_out.
    max_price = models.DecimalField(**AMOUNT, null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    # The least the swap may yield, in basis points below the chosen quote's amount out.
    slippage_bps = models.PositiveIntegerField(default=50)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_seq = models.PositiveIntegerField(default=0)

    venue = models.CharField(max_length=16, blank=True)
    tx_hash = models.CharField(max_length=128, blank=True)
    # Until then the signed transaction may still land, so no other may be sent for this order.
    tx_valid_until = models.DateTimeField(null=True, blank=True)
    expected_amount_out = models.DecimalField(**AMOUNT, null=True, blank=True)
    min_amount_out = models.DecimalField(**AMOUNT, null=True, blank=True)
    amount_out = models.DecimalField(**AMOUNT, null=True, blank=True)
    executed_price = models.DecimalField(**AMOUNT, null=True, blank=True)
    # The route of the last attempt: its kind, its legs with fees and price impact, its gain over
    # the best single venue (orders.quoting.route_data).
    route = models.JSONField(null=True, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # One entry per failed attempt: {"attempt", "error", "at"}.
    failures = models.JSONField(default=list, blank=True)
    # Why a failed order failed, for clients to act on: {"code": ..., ...}.
    failure_reason = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the recovery job re-drives the order if nothing has moved it by then; pushed forward
    # by every step, cleared once it is finished.
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="order_created_idx"),
            models.Index(fields=["account", "-created_at"], name="order_account_created_idx"),
            models.Index(fields=["account", "status"], name="order_account_status_idx"),
            # What placing an order counts against the account's cap: its open orders alone, however
            # long its history (orders.services._count_open_sql).
            models.Index(fields=["account"], name="order_account_open_idx", condition=models.Q(status__in=OPEN)),
            models.Index(
                fields=["token_in", "token_out"],
                name="order_waiting_idx",
                condition=models.Q(status="waiting"),
            ),
            models.Index(fields=["status", "-created_at"], name="order_status_created_idx"),
            models.Index(fields=["tx_hash"], name="order_tx_hash_idx"),
            models.Index(
                fields=["next_check_at"],
                name="order_next_check_idx",
                condition=models.Q(next_check_at__isnull=False),
            ),
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
        ordering = ["order_id", "seq"]  # by the column: "order" would join orders for their ordering
        constraints = [models.UniqueConstraint(fields=["order", "seq"], name="order_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.order_id} #{self.seq} {self.status}"


class IdempotencyStatus(models.TextChoices):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key: the request it was first sent with and, once done, its answer."""

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    # sha256 of the method, path and canonical JSON body of the first request under this key.
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_FLIGHT)
    # When the request now holding the key claimed it: a stale one is taken over, and only the
    # holder whose claim time still matches may store its answer.
    locked_at = models.DateTimeField(default=timezone.now)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]
        constraints = [
            models.UniqueConstraint(fields=["account", "key"], name="idempotency_key_account_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.key} ({self.status})"
