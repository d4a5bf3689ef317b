"""The API's shapes: order input with its validation, orders and events on the wire (camelCase)."""

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dex.tokens import TOKENS, get_token
from orders.models import Order, OrderEvent, OrderType
from orders.representations import order_detail, order_placed, order_row
from orders.venues import get_router

SYMBOL = re.compile(r"^[A-Z0-9]{2,10}$")
PLAIN_DECIMAL = re.compile(r"^[0-9]{1,40}(\.[0-9]{1,40})?$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def camelize(value: Any) -> Any:
    """Event data is stored with snake_case keys and sent with camelCase ones."""
    if isinstance(value, dict):
        return {camel(key): camelize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camelize(item) for item in value]
    return value


class AmountField(serializers.Field):
    """An amount as a decimal string or a JSON number; out as a plain decimal string."""

    default_error_messages = {
        "invalid": 'Enter a decimal number, as a string such as "10.5" or a JSON number.',
        "not_finite": "Enter a finite number.",
        "out_of_range": "Enter a number between 1e-30 and 1e30.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            self.fail("invalid")
        if isinstance(data, str) and not PLAIN_DECIMAL.fullmatch(data):
            self.fail("invalid")
        try:
            value = Decimal(data)
        except (InvalidOperation, ValueError):
            self.fail("invalid")
        if not value.is_finite():
            self.fail("not_finite")
        # Refused before any arithmetic: 1e999999999 is a valid Decimal that no check should touch.
        if value and not -30 <= value.adjusted() <= 30:
            self.fail("out_of_range")
        return value

    def to_representation(self, value: Decimal) -> str:
        return format(value.normalize(), "f")


class AmountFieldSchema(OpenApiSerializerFieldExtension):
    """An amount in the schema: a plain decimal string, or in a request a JSON number as well."""

    target_class = AmountField

    def map_serializer_field(self, auto_schema, direction: str) -> dict:
        text = {"type": "string", "format": "decimal", "pattern": PLAIN_DECIMAL.pattern, "example": "10.5"}
        return {"oneOf": [text, {"type": "number"}]} if direction == "request" else text


@extend_schema_field({"type": "string", "enum": list(TOKENS), "example": "SOL"})
class TokenField(serializers.Field):
    """A token symbol from the registry; anything but a string is refused, not coerced."""

    default_error_messages = {
        "invalid": "Enter a token symbol as a string.",
        "unknown": "Unknown token {symbol!r}; known tokens: {known}.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if get_token(data) is None:
            self.fail("unknown", symbol=data[:32], known=", ".join(TOKENS))
        return data

    def to_representation(self, value: str) -> str:
        return value


@extend_schema_field({"type": "string", "pattern": SYMBOL.pattern, "example": "USDC"})
class LaunchableTokenField(TokenField):
    """A registry token, or for a sniper order the symbol of a token listed for launch: which of
    the two is settled once the order's type is known."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or not SYMBOL.match(data):
            self.fail("unknown", symbol=str(data)[:32], known=", ".join(TOKENS))
        return data


def validate_trade(attrs: dict) -> None:
    """The rules every trade's tokens and amount follow, placed or only quoted."""
    token_in, token_out, amount = attrs["token_in"], attrs["token_out"], attrs["amount"]
    if token_in == token_out:
        raise serializers.ValidationError({"tokenOut": ["Must differ from tokenIn."]})
    maximum = settings.ORDER_MAX_AMOUNT
    if amount <= 0:
        raise serializers.ValidationError({"amount": ["Must be greater than 0."]})
    if amount > maximum:
        raise serializers.ValidationError({"amount": [f"Must be at most {maximum}."]})
    decimals = TOKENS[token_in].decimals
    if -amount.normalize().as_tuple().exponent > decimals:
        raise serializers.ValidationError({"amount": [f"{token_in} has at most {decimals} decimal places."]})


class OrderCreateSerializer(serializers.Serializer):
    tokenIn = TokenField(source="token_in")
    tokenOut = LaunchableTokenField(source="token_out")
    amount = AmountField()
    type = serializers.ChoiceField(choices=OrderType.choices, default=OrderType.MARKET)
    slippageBps = serializers.IntegerField(
        source="slippage_bps",
        min_value=1,
        max_value=5000,
        default=50,
        help_text="Least acceptable amount out, in basis points below the chosen quote (50 = 0.5%).",
    )

    limitPrice = AmountField(
        source="limit_price",
        required=False,
        help_text="Limit orders: the least net price, tokenOut per tokenIn, fees deducted, to execute at.",
    )
    expiresAt = serializers.DateTimeField(
        source="expires_at",
        required=False,
        help_text="Limit and sniper orders: when to stop waiting (default ORDER_LIMIT_DEFAULT_SECONDS from now).",
    )
    maxPrice = AmountField(
        source="max_price",
        required=False,
        help_text="Sniper orders: the most to pay, in tokenIn per unit of tokenOut.",
    )

    def to_internal_value(self, data: Any) -> dict:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        validate_trade(attrs)
        token_out = attrs["token_out"]
        if attrs["type"] == OrderType.SNIPER:
            self._validate_sniper(attrs)
        elif token_out not in TOKENS:
            raise serializers.ValidationError(
                {"tokenOut": [f"Unknown token {token_out!r}; known tokens: {', '.join(TOKENS)}."]}
            )
        if attrs["type"] in (OrderType.LIMIT, OrderType.SNIPER):
            return self._validate_waiting(attrs)
        self._refuse_unless(attrs, OrderType.LIMIT, {"limit_price": "limitPrice", "expires_at": "expiresAt"})
        return attrs

    def _refuse_unless(self, attrs: dict, order_type: str, fields: dict[str, str]) -> None:
        for field, name in fields.items():
            if field in attrs:
                raise serializers.ValidationError({name: [f"Only {order_type} orders take this field."]})

    def _validate_sniper(self, attrs: dict) -> None:
        self._refuse_unless(attrs, OrderType.LIMIT, {"limit_price": "limitPrice"})
        token_out = attrs["token_out"]
        if token_out in TOKENS:
            raise serializers.ValidationError(
                {"tokenOut": [f"{token_out} already trades: place a market or limit order for it."]}
            )
        if get_router().launches.get(token_out) is None:
            raise serializers.ValidationError({"tokenOut": [f"{token_out} is not listed for launch."]})
        if attrs.get("max_price") is not None and attrs["max_price"] <= 0:
            raise serializers.ValidationError({"maxPrice": ["Must be greater than 0."]})

    def _validate_waiting(self, attrs: dict) -> dict:
        if attrs["type"] == OrderType.LIMIT:
            self._refuse_unless(attrs, OrderType.SNIPER, {"max_price": "maxPrice"})
            if attrs.get("limit_price") is None:
                raise serializers.ValidationError({"limitPrice": ["A limit order needs a limit price."]})
            if attrs["limit_price"] <= 0:
                raise serializers.ValidationError({"limitPrice": ["Must be greater than 0."]})
        now = timezone.now()
        attrs.setdefault("expires_at", now + timedelta(seconds=settings.ORDER_LIMIT_DEFAULT_SECONDS))
        if attrs["expires_at"] <= now:
            raise serializers.ValidationError({"expiresAt": ["Must be in the future."]})
        if attrs["expires_at"] > now + timedelta(seconds=settings.ORDER_LIMIT_MAX_SECONDS):
            raise serializers.ValidationError(
                {"expiresAt": [f"Must be at most {settings.ORDER_LIMIT_MAX_SECONDS} seconds from now."]}
            )
        return attrs


class OrderCreateSchema(OpenApiSerializerExtension):
    """The order input in the schema, which says that an unknown field is refused."""

    target_class = OrderCreateSerializer

    def map_serializer(self, auto_schema, direction: str) -> dict:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class QuoteRequestSerializer(serializers.Serializer):
    """The query of a route preview: the trade an order would make, validated as one."""

    tokenIn = TokenField(source="token_in")
    tokenOut = LaunchableTokenField(source="token_out")
    amount = AmountField()

    def validate(self, attrs: dict) -> dict:
        validate_trade(attrs)
        token_out = attrs["token_out"]
        if token_out not in TOKENS and get_router().launches.get(token_out) is None:
            raise serializers.ValidationError(
                {"tokenOut": [f"Unknown token {token_out!r}; known tokens: {', '.join(TOKENS)}."]}
            )
        return attrs


DECIMAL_TEXT = {"help_text": "A decimal number as a string."}


class LegSerializer(serializers.Serializer):
    venue = serializers.CharField()
    tokenIn = serializers.CharField(source="token_in")
    tokenOut = serializers.CharField(source="token_out")
    amountIn = serializers.CharField(source="amount_in", **DECIMAL_TEXT)
    amountOut = serializers.CharField(source="amount_out", **DECIMAL_TEXT)
    fee = serializers.CharField(help_text="Taken by the venue, in tokenIn.")
    feeRate = serializers.CharField(source="fee_rate", help_text="The fee as a share of amountIn.")
    priceImpact = serializers.CharField(
        source="price_impact", help_text="1 - effective price / spot price, the effective price net of the fee."
    )
    binsCrossed = serializers.IntegerField(source="bins_crossed", help_text="Meteora: liquidity bins crossed.")


class RouteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["direct", "split", "two_hop"],
        help_text="direct: one pool; split: the amount shared across venues; two_hop: through USDC or SOL.",
    )
    venue = serializers.CharField(help_text="Every venue the route touches, as 'raydium' or 'raydium+meteora'.")
    tokenIn = serializers.CharField(source="token_in")
    tokenOut = serializers.CharField(source="token_out")
    amountIn = serializers.CharField(source="amount_in", **DECIMAL_TEXT)
    amountOut = serializers.CharField(source="amount_out", help_text="Net of every fee.")
    price = serializers.CharField(help_text="amountOut / amountIn.")
    priceImpact = serializers.CharField(source="price_impact", help_text="What the trade's size costs, as a share.")
    gainBps = serializers.CharField(
        source="gain_bps",
        allow_null=True,
        help_text="Basis points more out than the best single venue; null when no venue routes alone.",
    )
    quoteId = serializers.CharField(source="quote_id")
    expiresAt = serializers.DateTimeField(source="expires_at", help_text="The venues honour the quote until then.")
    legs = LegSerializer(many=True)


class QuotePreviewSerializer(serializers.Serializer):
    tokenIn = serializers.CharField(source="token_in")
    tokenOut = serializers.CharField(source="token_out")
    amount = serializers.CharField(**DECIMAL_TEXT)
    quotes = RouteSerializer(many=True, help_text="Each venue's own best route.")
    chosen = serializers.CharField(help_text="The venues of the route chosen.")
    route = RouteSerializer(help_text="The route with the most out: the one an order would take now.")
    venueErrors = serializers.DictField(
        source="venue_errors", child=serializers.CharField(), required=False, help_text="Venues that did not answer."
    )


class OrderEventSerializer(serializers.ModelSerializer):
    orderId = serializers.UUIDField(source="order_id")
    timestamp = serializers.DateTimeField(source="created_at")
    data = serializers.SerializerMethodField()

    class Meta:
        model = OrderEvent
        fields = ["orderId", "seq", "status", "timestamp", "data"]

    def get_data(self, event: OrderEvent) -> dict:
        return camelize(event.data)


# The order serializers' fields declare the contract and the schema (so no docstrings: they would
# become schema descriptions); their output is built by orders.representations, at a fraction of
# the fields' cost, and declared_representation() keeps the fields' own output, which the tests
# hold those builders to byte for byte.
class OrderSerializer(serializers.ModelSerializer):
    orderId = serializers.UUIDField(source="id")
    tokenIn = serializers.CharField(source="token_in")
    tokenOut = serializers.CharField(source="token_out")
    amount = AmountField()
    txHash = serializers.CharField(source="tx_hash")
    expectedAmountOut = AmountField(source="expected_amount_out", allow_null=True)
    amountOut = AmountField(source="amount_out", allow_null=True)
    executedPrice = AmountField(source="executed_price", allow_null=True)
    lastError = serializers.CharField(source="last_error")
    failures = serializers.JSONField()
    slippageBps = serializers.IntegerField(source="slippage_bps")
    limitPrice = AmountField(source="limit_price", allow_null=True)
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)
    minAmountOut = AmountField(source="min_amount_out", allow_null=True)
    failureReason = serializers.JSONField(source="failure_reason", allow_null=True)
    route = RouteSerializer(allow_null=True, help_text="The route of the last attempt, with its legs.")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Order
        fields = [
            "orderId", "type", "tokenIn", "tokenOut", "amount", "slippageBps", "limitPrice", "expiresAt", "status",
            "venue", "route", "txHash", "expectedAmountOut", "minAmountOut", "amountOut", "executedPrice", "attempts",
            "lastError", "failures", "failureReason", "createdAt", "updatedAt",
        ]  # fmt: skip

    def to_representation(self, instance: Order) -> dict:
        return order_row(instance)

    def declared_representation(self, instance: Order) -> dict:
        """The order as the declared fields write it, this class's or a subclass's."""
        return super().to_representation(instance)


class OrderDetailSerializer(OrderSerializer):
    events = OrderEventSerializer(many=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "events"]

    def to_representation(self, instance: Order) -> dict:
        return order_detail(instance)


class OrderPlacedSerializer(OrderSerializer):
    streamUrl = serializers.SerializerMethodField()

    class Meta(OrderSerializer.Meta):
        fields = [
            "orderId", "status", "type", "tokenIn", "tokenOut", "amount", "slippageBps", "limitPrice", "expiresAt",
            "createdAt", "streamUrl",
        ]  # fmt: skip

    def to_representation(self, instance: Order) -> dict:
        return order_placed(instance, stream_url=self.get_streamUrl(instance))

    def get_streamUrl(self, order: Order) -> str:
        request = self.context["request"]
        scheme = "wss" if request.is_secure() else "ws"
        return f"{scheme}://{request.get_host()}/api/orders/execute?orderId={order.id}"
