"""The shared behaviour of a simulated venue: quotes within a price band, swaps, status look-ups."""

import os
import random
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from dex.errors import QuoteExpired, SlippageExceeded, TransactionExpired, VenueError
from dex.launches import LaunchBoard, trading_token
from dex.ledger import Ledger
from dex.market import pair_position
from dex.models import Quote, SentTransaction, SwapResult, Transaction, TxStatus
from dex.tokens import TOKENS, Token, reference_price

QUOTE_SECONDS = 0.2
SWAP_SECONDS = (2.0, 3.0)
PRICE_STEP = Decimal("0.000001")
PRICE_PLACES = Decimal("1e-18")
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Simulation:
    """How the simulated venues behave; the engine builds it from its settings."""

    latency_scale: float = 1.0
    failure_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int | None = None
    # How long a signed transaction stays valid; None: comfortably past the slowest swap.
    tx_validity: float | None = None
    # How long a quote is honoured.
    quote_ttl: float = 30.0
    # How the price moves between quote and execution, as a share of the amount out: on average
    # (negative: against the trader) and its spread, which grows with the trade's size in USD.
    execution_drift: float = 0.0
    execution_volatility: float = 0.001
    # Seconds per step of the market's walk: smaller is a faster market.
    market_step: float = 2.0

    @property
    def validity_seconds(self) -> float:
        if self.tx_validity is not None:
            return self.tx_validity
        return max(1.0, 2 * SWAP_SECONDS[1] * self.latency_scale)


def _places(token: Token) -> Decimal:
    return Decimal(1).scaleb(-token.decimals)


def base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, rest = divmod(number, 58)
        digits = BASE58[rest] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


class SimulatedVenue:
    """A venue whose price is the reference price moved by a random factor within its band."""

    name: str
    fee_rate: Decimal
    band: tuple[Decimal, Decimal]

    def __init__(self, *, simulation: Simulation, ledger: Ledger, launches: LaunchBoard | None = None) -> None:
        self.simulation = simulation
        self.ledger = ledger
        self.launches = launches

    def quote(self, token_in: str, token_out: str, amount_in: Decimal, *, key: str) -> Quote:
        """Price `amount_in` of token_in in token_out; `key` makes a seeded run reproducible."""
        rng = self._rng(key, "quote")
        self._wait(QUOTE_SECONDS * rng.uniform(0.9, 1.1))
        self._maybe_fail(rng, "quote request timed out")
        price = self._price(token_in, token_out, time.time(), noise=2 * rng.random() - 1)
        gross = amount_in * price
        fee = gross * self.fee_rate
        places = _places(self._token(token_out))
        return Quote(
            venue=self.name,
            token_in=token_in,
            token_out=token_out,
            amount_in=amount_in,
            price=price,
            fee_rate=self.fee_rate,
            fee=fee.quantize(places, ROUND_DOWN),
            amount_out=(gross - fee).quantize(places, ROUND_DOWN),
            quote_id=rng.randbytes(8).hex(),
            expires_at=time.time() + self.simulation.quote_ttl,
        )

    def spot_price(self, token_in: str, token_out: str, now: float) -> Decimal:
        """The venue's price at `now` without a quote's own noise, net of its fee: what a
        watcher of the pool sees, instantly and for free."""
        return self._price(token_in, token_out, now, noise=0.0) * (1 - self.fee_rate)

    def _price(self, token_in: str, token_out: str, now: float, *, noise: float) -> Decimal:
        """Reference price times a factor inside the venue's band: mostly where the market's walk
        stands, partly the quote's own noise (in [-1, 1])."""
        low, high = self.band
        market = pair_position(
            token_in, token_out, now, seed=self.simulation.seed or 0, step_seconds=self.simulation.market_step
        )
        where = Decimal(repr(0.8 * market + 0.2 * noise))
        factor = ((low + high) / 2 + (high - low) / 2 * where).quantize(PRICE_STEP)
        return reference_price(self._token(token_in), self._token(token_out)) * factor

    def build_swap(self, quote: Quote, *, order_id: str, key: str, min_amount_out: Decimal) -> Transaction:
        """Sign a swap of the quote that executes only for at least `min_amount_out`; SOL going in
        is wrapped to wSOL inside the transaction. An expired quote is refused."""
        if quote.expired(time.time()):
            raise QuoteExpired(self.name, quote.quote_id)
        signature = base58(self._rng(key, "sign").randbytes(64))
        return Transaction(
            signature=signature,
            venue=self.name,
            order_id=order_id,
            quote=quote,
            wraps_sol=quote.token_in == "SOL",
            min_amount_out=min_amount_out,
            valid_until=time.time() + self.simulation.validity_seconds,
        )

    def submit(self, tx: Transaction, *, key: str) -> SwapResult:
        """Send the transaction and wait for it to land; it executes at the quoted price.

        Once the chain has received it, it lands (or expires) whether or not its sender is
        still there to hear about it.
        """
        quote = tx.quote
        if quote.expired(time.time()):
            raise QuoteExpired(self.name, quote.quote_id)
        rng = self._rng(key, "submit")
        self._maybe_fail(rng, "transaction was not accepted by the RPC node")
        latency = rng.uniform(*SWAP_SECONDS) * max(self.simulation.latency_scale, 0)
        lands_at = time.time() + latency
        actual = self._executed_amount(quote, rng)
        result = SwapResult(
            signature=tx.signature,
            venue=self.name,
            order_id=tx.order_id,
            token_in=quote.token_in,
            token_out=quote.token_out,
            amount_in=quote.amount_in,
            amount_out=actual,
            price=(actual / quote.amount_in).quantize(PRICE_PLACES),
            slot=self.ledger.next_slot(),
        )
        refused = actual < tx.min_amount_out
        sent = self.ledger.send(
            SentTransaction(
                signature=tx.signature,
                venue=self.name,
                order_id=tx.order_id,
                lands_at=lands_at,
                result=result if lands_at <= tx.valid_until and not refused else None,
                refused_out=actual if refused else None,
                min_amount_out=tx.min_amount_out,
            )
        )
        time.sleep(max(0.0, sent.lands_at - time.time()))
        if sent.refused_out is not None:
            raise SlippageExceeded(expected=quote.amount_out, minimum=tx.min_amount_out, actual=sent.refused_out)
        if sent.result is None:
            raise TransactionExpired(self.name, tx.signature)
        if rng.random() < self.simulation.lost_response_rate:
            raise VenueError(self.name, "confirmation timed out; the transaction may have landed")
        return sent.result

    def _executed_amount(self, quote: Quote, rng: random.Random) -> Decimal:
        """The quote's amount out, moved by the market since the quote: more for larger trades."""
        notional_usd = float(quote.amount_in * self._token(quote.token_in).reference_usd)
        spread = self.simulation.execution_volatility * (1 + notional_usd / 10_000)
        move = Decimal(repr(rng.gauss(self.simulation.execution_drift, spread)))
        return max(Decimal(0), quote.amount_out * (1 + move)).quantize(
            _places(self._token(quote.token_out)), ROUND_DOWN
        )

    def _token(self, symbol: str) -> Token:
        """A registry token, or a new one whose pool has launched on this venue."""
        token = TOKENS.get(symbol) or trading_token(self.launches, symbol, self.name)
        if token is None:
            raise VenueError(self.name, f"no pool trades {symbol} here")
        return token

    def get_status(self, signature: str) -> TxStatus | None:
        """Where the transaction with this signature stands; None if the chain never received it."""
        sent = self.ledger.get(signature)
        return sent.status(time.time()) if sent else None

    def _rng(self, key: str, step: str) -> random.Random:
        seed = self.simulation.seed
        if seed is None:
            return random.Random(os.urandom(16))
        return random.Random(f"{seed}:{self.name}:{key}:{step}")

    def _wait(self, seconds: float) -> None:
        if self.simulation.latency_scale > 0:
            time.sleep(seconds * self.simulation.latency_scale)

    def _maybe_fail(self, rng: random.Random, message: str) -> None:
        if rng.random() < self.simulation.failure_rate:
            raise VenueError(self.name, message)
