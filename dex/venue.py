"""The shared behaviour of a simulated venue: quotes within a price band, swaps, status look-ups."""

import os
import random
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from dex.errors import TransactionExpired, VenueError
from dex.ledger import Ledger
from dex.models import Quote, SentTransaction, SwapResult, Transaction, TxStatus
from dex.tokens import TOKENS, reference_price

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

    @property
    def validity_seconds(self) -> float:
        if self.tx_validity is not None:
            return self.tx_validity
        return max(1.0, 2 * SWAP_SECONDS[1] * self.latency_scale)


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

    def __init__(self, *, simulation: Simulation, ledger: Ledger) -> None:
        self.simulation = simulation
        self.ledger = ledger

    def quote(self, token_in: str, token_out: str, amount_in: Decimal, *, key: str) -> Quote:
        """Price `amount_in` of token_in in token_out; `key` makes a seeded run reproducible."""
        rng = self._rng(key, "quote")
        self._wait(QUOTE_SECONDS * rng.uniform(0.9, 1.1))
        self._maybe_fail(rng, "quote request timed out")
        low, high = self.band
        factor = (low + (high - low) * Decimal(rng.random())).quantize(PRICE_STEP)
        price = reference_price(TOKENS[token_in], TOKENS[token_out]) * factor
        gross = amount_in * price
        fee = gross * self.fee_rate
        places = Decimal(1).scaleb(-TOKENS[token_out].decimals)
        return Quote(
            venue=self.name,
            token_in=token_in,
            token_out=token_out,
            amount_in=amount_in,
            price=price,
            fee_rate=self.fee_rate,
            fee=fee.quantize(places, ROUND_DOWN),
            amount_out=(gross - fee).quantize(places, ROUND_DOWN),
        )

    def build_swap(self, quote: Quote, *, order_id: str, key: str) -> Transaction:
        """Sign a swap of the quote; SOL going in is wrapped to wSOL inside the transaction."""
        signature = base58(self._rng(key, "sign").randbytes(64))
        return Transaction(
            signature=signature,
            venue=self.name,
            order_id=order_id,
            quote=quote,
            wraps_sol=quote.token_in == "SOL",
            valid_until=time.time() + self.simulation.validity_seconds,
        )

    def submit(self, tx: Transaction, *, key: str) -> SwapResult:
        """Send the transaction and wait for it to land; it executes at the quoted price.

        Once the chain has received it, it lands (or expires) whether or not its sender is
        still there to hear about it.
        """
        rng = self._rng(key, "submit")
        self._maybe_fail(rng, "transaction was not accepted by the RPC node")
        latency = rng.uniform(*SWAP_SECONDS) * max(self.simulation.latency_scale, 0)
        lands_at = time.time() + latency
        quote = tx.quote
        result = SwapResult(
            signature=tx.signature,
            venue=self.name,
            order_id=tx.order_id,
            token_in=quote.token_in,
            token_out=quote.token_out,
            amount_in=quote.amount_in,
            amount_out=quote.amount_out,
            price=(quote.amount_out / quote.amount_in).quantize(PRICE_PLACES),
            slot=self.ledger.next_slot(),
        )
        sent = self.ledger.send(
            SentTransaction(
                signature=tx.signature,
                venue=self.name,
                order_id=tx.order_id,
                lands_at=lands_at,
                result=result if lands_at <= tx.valid_until else None,
            )
        )
        time.sleep(max(0.0, sent.lands_at - time.time()))
        if sent.result is None:
            raise TransactionExpired(self.name, tx.signature)
        if rng.random() < self.simulation.lost_response_rate:
            raise VenueError(self.name, "confirmation timed out; the transaction may have landed")
        return sent.result

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
