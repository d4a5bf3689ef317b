"""Routes as the engine stores, streams and previews them."""

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dex.router import Routing
from dex.routes import Leg, Route
from orders.services import plain
from orders.venues import get_router

RATE_PLACES = Decimal("0.000001")  # fees and price impacts, to a hundredth of a basis point


def _rate(value: Decimal) -> str:
    return plain(value.quantize(RATE_PLACES, ROUND_HALF_EVEN))


def leg_data(leg: Leg, decimals: int) -> dict[str, Any]:
    return {
        "venue": leg.venue,
        "token_in": leg.token_in,
        "token_out": leg.token_out,
        "amount_in": plain(leg.amount_in),
        "amount_out": plain(leg.amount_out),
        "fee": plain(leg.fee.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN)),
        "fee_rate": _rate(leg.fee_rate),
        "price_impact": _rate(leg.price_impact),
        "bins_crossed": leg.bins_crossed,
    }


def route_data(route: Route) -> dict[str, Any]:
    """A route with its legs, fees, price impact and gain over the best single venue."""
    router = get_router()
    return {
        "kind": route.kind,
        "venue": route.venue,
        "token_in": route.token_in,
        "token_out": route.token_out,
        "amount_in": plain(route.amount_in),
        "amount_out": plain(route.amount_out),
        "price": plain(route.price.quantize(Decimal("1e-18"))),
        "price_impact": _rate(route.price_impact),
        "gain_bps": plain(route.gain_bps) if route.gain_bps is not None else None,
        "quote_id": route.quote_id,
        "expires_at": datetime.fromtimestamp(route.expires_at, tz=UTC).isoformat(),
        "legs": [leg_data(leg, router.venue(leg.venue).token(leg.token_in).decimals) for leg in route.legs],
    }


def routing_data(routing: Routing) -> dict[str, Any]:
    """Each venue's own best route, the route chosen, and the venues that did not answer."""
    data: dict[str, Any] = {
        "quotes": [route_data(quote) for quote in routing.quotes],
        "chosen": routing.best.venue,
        "route": route_data(routing.best),
    }
    if routing.errors:
        data["venue_errors"] = routing.errors
    return data


def quote_preview(*, token_in: str, token_out: str, amount: Decimal) -> dict[str, Any]:
    """What an order would do now: every venue's quote and the route chosen, placing nothing.

    Raises NoRouteAvailable when no venue answers or none can route the pair and amount."""
    routing = get_router().route(token_in, token_out, amount, key=f"preview:{token_in}:{token_out}:{amount}")
    return {"token_in": token_in, "token_out": token_out, "amount": plain(amount), **routing_data(routing)}
