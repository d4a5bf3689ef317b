"""Orders on the wire built directly: the declared serializers' output, byte for byte, without their fields."""

from datetime import tzinfo
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.models import Order
from orders.publisher import event_message, wire_datetime

# Each builder writes what the declared fields of its serializer would: the same keys in the same
# order, None for a None value whatever the field, str() for a CharField, int() for an
# IntegerField, a choice as itself. NOT NULL columns are not checked for None: a stored order has none.


def _amount(value: Decimal | None) -> str | None:
    # AmountField's form; normalize() rounds to the context's precision, as the field's does.
    return None if value is None else format(value.normalize(), "f")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _route_datetime(value: Any, tz: tzinfo) -> str | None:
    # A stored route's expiry is already text (with "+00:00", not "Z"), which DateTimeField passes through.
    if not value:
        return None
    return value if isinstance(value, str) else wire_datetime(value, tz)


def leg_representation(leg: dict[str, Any]) -> dict[str, Any]:
    """LegSerializer's output for one leg of a stored route."""
    bins = leg["bins_crossed"]
    return {
        "venue": _text(leg["venue"]),
        "tokenIn": _text(leg["token_in"]),
        "tokenOut": _text(leg["token_out"]),
        "amountIn": _text(leg["amount_in"]),
        "amountOut": _text(leg["amount_out"]),
        "fee": _text(leg["fee"]),
        "feeRate": _text(leg["fee_rate"]),
        "priceImpact": _text(leg["price_impact"]),
        "binsCrossed": None if bins is None else int(bins),
    }


def route_representation(route: dict[str, Any], tz: tzinfo) -> dict[str, Any]:
    """RouteSerializer's output for a stored route (orders.quoting.route_data)."""
    legs = route["legs"]
    return {
        "kind": route["kind"],
        "venue": _text(route["venue"]),
        "tokenIn": _text(route["token_in"]),
        "tokenOut": _text(route["token_out"]),
        "amountIn": _text(route["amount_in"]),
        "amountOut": _text(route["amount_out"]),
        "price": _text(route["price"]),
        "priceImpact": _text(route["price_impact"]),
        # The one field that allows null, so the one a route may lack.
        "gainBps": _text(route.get("gain_bps")),
        "quoteId": _text(route["quote_id"]),
        "expiresAt": _route_datetime(route["expires_at"], tz),
        "legs": None if legs is None else [leg_representation(leg) for leg in legs],
    }


def order_row(order: Order, tz: tzinfo | None = None) -> dict[str, Any]:
    """OrderSerializer's output: an order in the history."""
    if tz is None:
        tz = timezone.get_current_timezone()
    route = order.route
    return {
        "orderId": str(order.id),
        "type": str(order.type),
        "tokenIn": str(order.token_in),
        "tokenOut": str(order.token_out),
        "amount": _amount(order.amount),
        "slippageBps": int(order.slippage_bps),
        "limitPrice": _amount(order.limit_price),
        "expiresAt": None if order.expires_at is None else wire_datetime(order.expires_at, tz),
        "status": str(order.status),
        "venue": str(order.venue),
        "route": None if route is None else route_representation(route, tz),
        "txHash": str(order.tx_hash),
        "expectedAmountOut": _amount(order.expected_amount_out),
        "minAmountOut": _amount(order.min_amount_out),
        "amountOut": _amount(order.amount_out),
        "executedPrice": _amount(order.executed_price),
        "attempts": int(order.attempts),
        "lastError": str(order.last_error),
        "failures": order.failures,
        "failureReason": order.failure_reason,
        "createdAt": wire_datetime(order.created_at, tz),
        "updatedAt": wire_datetime(order.updated_at, tz),
    }


def order_detail(order: Order) -> dict[str, Any]:
    """OrderDetailSerializer's output: the order with its events, in seq order."""
    tz = timezone.get_current_timezone()
    return {**order_row(order, tz), "events": [event_message(event, tz) for event in order.events.all()]}


def order_placed(order: Order, *, stream_url: str) -> dict[str, Any]:
    """OrderPlacedSerializer's output: the answer to a new order, with where to follow it."""
    tz = timezone.get_current_timezone()
    return {
        "orderId": str(order.id),
        "status": str(order.status),
        "type": str(order.type),
        "tokenIn": str(order.token_in),
        "tokenOut": str(order.token_out),
        "amount": _amount(order.amount),
        "slippageBps": int(order.slippage_bps),
        "limitPrice": _amount(order.limit_price),
        "expiresAt": None if order.expires_at is None else wire_datetime(order.expires_at, tz),
        "createdAt": wire_datetime(order.created_at, tz),
        "streamUrl": stream_url,
    }
