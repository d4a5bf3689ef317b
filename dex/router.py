"""Asks every venue for a quote at once and picks the best execution."""

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from dex.errors import NoRouteAvailable, VenueError
from dex.launches import LaunchBoard
from dex.ledger import Ledger
from dex.meteora import Meteora
from dex.models import Quote, SentTransaction
from dex.raydium import Raydium
from dex.venue import SimulatedVenue, Simulation


@dataclass(frozen=True)
class Routing:
    """Every venue's answer and the chosen quote."""

    quotes: list[Quote]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> Quote:
        return best_quote(self.quotes, self.errors)


def best_quote(quotes: list[Quote], errors: dict[str, str] | None = None) -> Quote:
    """The quote with the largest amount out after fees; on a tie, the earlier venue wins."""
    if not quotes:
        raise NoRouteAvailable([f"{venue}: {error}" for venue, error in (errors or {}).items()])
    # max() keeps the first of equal elements, so the venue order settles ties.
    return max(quotes, key=lambda quote: quote.amount_out)


class Router:
    def __init__(self, venues: list[SimulatedVenue], ledger: Ledger, launches: LaunchBoard | None = None) -> None:
        self.venues = {venue.name: venue for venue in venues}
        self.ledger = ledger
        self.launches = launches
        self._pool = ThreadPoolExecutor(max_workers=len(venues), thread_name_prefix="quote")

    def route(self, token_in: str, token_out: str, amount_in: Decimal, *, key: str) -> Routing:
        """Quote on all venues concurrently; a venue that fails is left out and named in errors."""
        futures = {
            name: self._pool.submit(venue.quote, token_in, token_out, amount_in, key=key)
            for name, venue in self.venues.items()
        }
        quotes, errors = [], {}
        for name, future in futures.items():
            try:
                quotes.append(future.result())
            except VenueError as exc:
                errors[name] = str(exc)
        return Routing(quotes=quotes, errors=errors)

    def best_spot_price(self, token_in: str, token_out: str, now: float) -> Decimal:
        """The best net price (token_out per token_in, fees deducted) across the venues at `now`."""
        prices = []
        for venue in self.venues.values():
            with contextlib.suppress(VenueError):  # no pool for the pair on this venue
                prices.append(venue.spot_price(token_in, token_out, now))
        if not prices:
            raise NoRouteAvailable([f"no venue trades {token_in}/{token_out}"])
        return max(prices)

    def venue(self, name: str) -> SimulatedVenue:
        return self.venues[name]

    def transactions_for(self, order_id: str) -> list[SentTransaction]:
        """Every transaction the chain received for this order: the order id is its idempotency key."""
        return self.ledger.for_order(order_id)


def build_router(*, simulation: Simulation, ledger: Ledger, launches: LaunchBoard | None = None) -> Router:
    venues = [
        Raydium(simulation=simulation, ledger=ledger, launches=launches),
        Meteora(simulation=simulation, ledger=ledger, launches=launches),
    ]
    return Router(venues, ledger, launches)
