"""The aggregator: asks every venue for its pools at once, picks the best route, and sends it as
one transaction that the chain executes against the pools as they stand when it lands."""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from dex.errors import NoRouteAvailable, QuoteExpired, SlippageExceeded, TransactionExpired, VenueError
from dex.launches import LaunchBoard
from dex.ledger import Ledger, PoolsMoved
from dex.meteora import Meteora
from dex.models import SentTransaction, SwapResult, Transaction, TxStatus
from dex.pools import InsufficientLiquidity
from dex.raydium import Raydium
from dex.routes import Book, Route, best, best_net_spot, candidates, replay
from dex.venue import SWAP_SECONDS, SimulatedVenue, Simulation

PRICE_PLACES = Decimal("1e-18")
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# Times the chain prices a transaction again when another swap moved its pools meanwhile.
REPRICES = 20


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = BASE58[rest] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


@dataclass(frozen=True)
class Routing:
    """Each venue's own best route, the best route of all, and the venues that did not answer."""

    quotes: list[Route]
    best: Route
    errors: dict[str, str] = field(default_factory=dict)
    # Wall time spent waiting for the venues' answers, the route search aside.
    venue_seconds: float = 0.0


class Router:
    def __init__(self, venues: list[SimulatedVenue], ledger: Ledger, launches: LaunchBoard | None = None) -> None:
        self.venues = {venue.name: venue for venue in venues}
        self.ledger = ledger
        self.launches = launches
        self.simulation = venues[0].simulation
        self._pool = ThreadPoolExecutor(max_workers=len(venues), thread_name_prefix="quote")

    def route(self, token_in: str, token_out: str, amount_in: Decimal, *, key: str) -> Routing:
        """Ask every venue at once; one that fails is left out and named in errors."""
        asked = time.monotonic()
        futures = {
            name: self._pool.submit(venue.snapshot, token_in, token_out, key=key) for name, venue in self.venues.items()
        }
        book: Book = {}
        errors = {}
        for name, future in futures.items():
            try:
                book[name] = future.result()
            except VenueError as exc:
                errors[name] = str(exc)
        venue_seconds = time.monotonic() - asked
        quotes, routes = candidates(book, token_in, token_out, amount_in)
        chosen = best(routes)
        if chosen is None:
            missing = {name: "no route for this pair and amount" for name in book}
            reasons = [f"{venue}: {error}" for venue, error in {**errors, **missing}.items()]
            raise NoRouteAvailable(reasons, unreachable=not book)
        rng = self.venues[chosen.legs[0].venue].rng(key, "quote-id")
        stamp = {"quote_id": rng.randbytes(8).hex(), "expires_at": time.time() + self.simulation.quote_ttl}
        return Routing(
            quotes=[replace(quote, **stamp) for quote in quotes],
            best=replace(chosen, **stamp),
            errors=errors,
            venue_seconds=venue_seconds,
        )

    def best_spot_price(self, token_in: str, token_out: str, now: float) -> Decimal:
        """The best net price (token_out per token_in, fees deducted) for a trade too small to move
        a pool, across venues and routes, as a watcher of the pools sees it: instantly, for free."""
        book = {name: venue.pools_between(token_in, token_out, now) for name, venue in self.venues.items()}
        price = best_net_spot(book, token_in, token_out)
        if price is None:
            raise NoRouteAvailable([f"no venue trades {token_in}/{token_out}"])
        return price

    def build_swap(self, route: Route, *, order_id: str, key: str, min_amount_out: Decimal) -> Transaction:
        """Sign the route as one transaction that executes only for at least `min_amount_out`; SOL
        going in is wrapped to wSOL inside it. An expired quote is refused."""
        if route.expired(time.time()):
            raise QuoteExpired(route.venue, route.quote_id)
        signature = base58(self.venues[route.legs[0].venue].rng(key, "sign").randbytes(64))
        return Transaction(
            signature=signature,
            venue=route.venue,
            order_id=order_id,
            route=route,
            wraps_sol=route.token_in == "SOL",
            min_amount_out=min_amount_out,
            valid_until=time.time() + self.simulation.validity_seconds,
        )

    def submit(self, tx: Transaction, *, key: str) -> SwapResult:
        """Send the transaction and wait for it to land.

        The chain executes it when it receives it, against the pools as they are then, and moves
        them; it lands (or expires) whether or not its sender is still there to hear about it.
        """
        route = tx.route
        if route.expired(time.time()):
            raise QuoteExpired(route.venue, route.quote_id)
        first = self.venues[route.legs[0].venue]
        rng = first.rng(key, "submit")
        first.maybe_fail(rng, "transaction was not accepted by the RPC node")
        lands_at = time.time() + rng.uniform(*SWAP_SECONDS) * max(self.simulation.latency_scale, 0)
        move = self._market_move(route, rng)
        sent = self._send(tx, lands_at, move)
        time.sleep(max(0.0, sent.lands_at - time.time()))
        if sent.refused_out is not None:
            raise SlippageExceeded(expected=route.amount_out, minimum=tx.min_amount_out, actual=sent.refused_out)
        if sent.result is None:
            raise TransactionExpired(tx.venue, tx.signature)
        if rng.random() < self.simulation.lost_response_rate:
            raise VenueError(tx.venue, "confirmation timed out; the transaction may have landed")
        return sent.result

    def _send(self, tx: Transaction, lands_at: float, move: Decimal) -> SentTransaction:
        """Price the route against the pools' stored states and send it with the states after it,
        again if another swap moved one of its pools in between."""
        route = tx.route
        for _ in range(REPRICES):
            now = time.time()
            stored = self.ledger.pool_states(list(route.pools))
            pools = {key: self._venue_of(key).pool_at(key, state, now) for key, (version, state) in stored.items()}
            try:
                amount_out, after, legs = replay(route, pools)
            except InsufficientLiquidity:
                amount_out, after, legs = Decimal(0), pools, route.legs
            token_out = self._venue_of(route.pools[-1]).token(route.token_out)
            actual = max(Decimal(0), amount_out * (1 + move)).quantize(
                Decimal(1).scaleb(-token_out.decimals), ROUND_DOWN
            )
            lands = lands_at <= tx.valid_until and actual >= tx.min_amount_out
            refused = actual < tx.min_amount_out
            result = SwapResult(
                signature=tx.signature,
                venue=tx.venue,
                order_id=tx.order_id,
                token_in=route.token_in,
                token_out=route.token_out,
                amount_in=route.amount_in,
                amount_out=actual,
                price=(actual / route.amount_in).quantize(PRICE_PLACES),
                slot=self.ledger.next_slot(),
                legs=tuple(leg_data(leg) for leg in legs),
            )
            writes = {key: (stored[key][0], self._venue_of(key).state(after[key], now)) for key in route.pools}
            try:
                return self.ledger.send(
                    SentTransaction(
                        signature=tx.signature,
                        venue=tx.venue,
                        order_id=tx.order_id,
                        lands_at=lands_at,
                        result=result if lands else None,
                        refused_out=actual if refused else None,
                        min_amount_out=tx.min_amount_out,
                    ),
                    writes if lands else None,
                )
            except PoolsMoved:
                continue
        raise VenueError(tx.venue, "the pools kept moving; the transaction was not sent")

    def _market_move(self, route: Route, rng) -> Decimal:
        """How other traders move the price between quote and execution, beyond what the pools
        model: more for larger trades, which take longer to fill and draw more attention."""
        notional_usd = float(route.amount_in * self._venue_of(route.pools[0]).token(route.token_in).reference_usd)
        spread = self.simulation.execution_volatility * (1 + notional_usd / 100_000)
        return Decimal(repr(rng.gauss(self.simulation.execution_drift, spread)))

    def _venue_of(self, pool_key: str) -> SimulatedVenue:
        return self.venues[pool_key.split(":", 1)[0]]

    def venue(self, name: str) -> SimulatedVenue:
        return self.venues[name]

    def get_status(self, signature: str) -> TxStatus | None:
        """Where the transaction with this signature stands; None if the chain never received it."""
        sent = self.ledger.get(signature)
        return sent.status(time.time()) if sent else None

    def transactions_for(self, order_id: str) -> list[SentTransaction]:
        """Every transaction the chain received for this order: the order id is its idempotency key."""
        return self.ledger.for_order(order_id)


def leg_data(leg) -> dict:
    return {
        "venue": leg.venue,
        "token_in": leg.token_in,
        "token_out": leg.token_out,
        "amount_in": str(leg.amount_in),
        "amount_out": str(leg.amount_out),
    }


def build_router(*, simulation: Simulation, ledger: Ledger, launches: LaunchBoard | None = None) -> Router:
    venues = [
        Raydium(simulation=simulation, ledger=ledger, launches=launches),
        Meteora(simulation=simulation, ledger=ledger, launches=launches),
    ]
    return Router(venues, ledger, launches)
