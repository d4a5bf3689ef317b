"""The shared behaviour of a simulated venue: its pools, where their prices drift, its latency and
failures.

A pool's state lives on the simulated chain, so every process prices it alike. Between swaps its
price is pulled back towards a target that follows the market's walk inside the venue's band, as
arbitrage would: a swap's displacement decays with the `pool_recovery` time constant.
"""

import math
import os
import random
import time
from dataclasses import dataclass
from decimal import Decimal

from dex.errors import VenueError
from dex.launches import LaunchBoard
from dex.ledger import Ledger
from dex.market import PEGGED, pair_position, position
from dex.pools import Pool
from dex.routes import PoolRef
from dex.tokens import TOKENS, Token

QUOTE_SECONDS = 0.2
SWAP_SECONDS = (2.0, 3.0)
# Every venue follows the same market; a small share of its own walk keeps the two apart a little.
SHARED_MOVE, OWN_MOVE = Decimal("0.9"), Decimal("0.1")
# The half-width of where the market takes a pool's target price: inside the narrower of the seed's
# bands (+-2%), with room for Meteora's price to sit on a bin edge.
MARKET_RANGE = Decimal("0.019")
# Tokens every new token's pool is opened against on its venue.
LAUNCH_QUOTES = ("SOL", "USDC")


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
    # How other traders move the price between quote and execution, as a share of the amount
    # out: on average (negative: against the trader) and its spread, which grows with the trade.
    execution_drift: float = 0.0
    execution_volatility: float = 0.001
    # Seconds per step of the market's walk: smaller is a faster market; 0 holds it still.
    market_step: float = 2.0
    # Seconds for a pool's price to recover 63% of the way back to the market after a swap.
    pool_recovery: float = 30.0

    @property
    def validity_seconds(self) -> float:
        if self.tx_validity is not None:
            return self.tx_validity
        return max(1.0, 2 * SWAP_SECONDS[1] * self.latency_scale)


class SimulatedVenue:
    name: str
    fee_rate: Decimal
    band: tuple[Decimal, Decimal]
    # (base, quote) -> the pool's size, in the venue's own terms; a launched token gets LAUNCH_SIZE.
    pools: dict[tuple[str, str], Decimal]
    launch_size: Decimal

    def __init__(self, *, simulation: Simulation, ledger: Ledger, launches: LaunchBoard | None = None) -> None:
        self.simulation = simulation
        self.ledger = ledger
        self.launches = launches

    # --- the pools -------------------------------------------------------------------------

    def pair(self, token_a: str, token_b: str, now: float) -> tuple[str, str] | None:
        """The (base, quote) of this venue's pool trading the two tokens, if it has one."""
        launched = self._launched(token_a, now) or self._launched(token_b, now)
        if launched:
            other = token_b if launched == token_a else token_a
            return (launched, other) if other in LAUNCH_QUOTES else None
        for pair in ((token_a, token_b), (token_b, token_a)):
            if pair in self.pools:
                return pair
        return None

    def _launched(self, symbol: str, now: float) -> str | None:
        """`symbol` if it is a new token whose pool has opened on this venue."""
        if symbol in TOKENS or self.launches is None:
            return None
        launch = self.launches.get(symbol)
        return symbol if launch and launch.venue == self.name and launch.launched(now) else None

    def token(self, symbol: str) -> Token:
        if symbol in TOKENS:
            return TOKENS[symbol]
        launch = self.launches.get(symbol) if self.launches else None
        if launch is None:
            raise VenueError(self.name, f"no pool trades {symbol} here")
        return launch.token

    def size(self, base: str, quote: str) -> Decimal:
        return self.pools.get((base, quote), self.launch_size)

    def pool_key(self, base: str, quote: str) -> str:
        return f"{self.name}:{base}/{quote}"

    def target_price(self, base: str, quote: str, now: float) -> Decimal:
        """Quote per base where the market, left alone, holds this venue's pool at `now`."""
        step, seed = self.simulation.market_step, self.simulation.seed or 0
        shared = Decimal(repr(pair_position(base, quote, now, seed=seed, step_seconds=step)))
        own = Decimal(0)
        if not (base in PEGGED and quote in PEGGED):
            own = Decimal(repr(position(self.pool_key(base, quote), now, seed=seed, step_seconds=step)))
        factor = 1 + MARKET_RANGE * (SHARED_MOVE * shared + OWN_MOVE * own)
        return self.token(base).reference_usd / self.token(quote).reference_usd * factor

    def recovered(self, displacement: Decimal, since: float, now: float) -> Decimal:
        """What is left of a displacement `now - since` seconds later."""
        tau = self.simulation.pool_recovery
        if tau <= 0:
            return Decimal(0)
        return displacement * Decimal(repr(math.exp(-max(0.0, now - since) / tau)))

    def pool(self, base: str, quote: str, state: dict | None, now: float) -> Pool:
        """The pool as it stands at `now`, from its last stored state (None: never swapped)."""
        raise NotImplementedError

    def state(self, pool: Pool, now: float) -> dict:
        """What to store of the pool after a swap at `now`."""
        raise NotImplementedError

    def snapshot(self, token_in: str, token_out: str, *, key: str) -> dict[tuple[str, str], PoolRef]:
        """Ask the venue for every pool a route between the two tokens may use: the direct one
        and those through the hop tokens. Takes a quote's latency and may fail like one."""
        rng = self.rng(key, "quote")
        self.wait(QUOTE_SECONDS * rng.uniform(0.9, 1.1))
        self.maybe_fail(rng, "quote request timed out")
        return self.pools_between(token_in, token_out, time.time())

    def pools_between(self, token_in: str, token_out: str, now: float) -> dict[tuple[str, str], PoolRef]:
        wanted = {(token_in, token_out)}
        for hop in ("USDC", "SOL"):
            wanted |= {(token_in, hop), (hop, token_out)}
        pairs = {want: pair for want in wanted if want[0] != want[1] and (pair := self.pair(*want, now))}
        keys = {pair: self.pool_key(*pair) for pair in set(pairs.values())}
        stored = self.ledger.pool_states(list(keys.values()))
        refs = {pair: PoolRef(key, self.pool(*pair, stored[key][1], now)) for pair, key in keys.items()}
        book = {}
        for (token_a, token_b), pair in pairs.items():
            book[(token_a, token_b)] = book[(token_b, token_a)] = refs[pair]
        return book

    def pool_at(self, key: str, state: dict | None, now: float) -> Pool:
        base, quote = key.split(":", 1)[1].split("/")
        return self.pool(base, quote, state, now)

    # --- latency and failures -------------------------------------------------------------

    def rng(self, key: str, step: str) -> random.Random:
        seed = self.simulation.seed
        if seed is None:
            return random.Random(os.urandom(16))
        return random.Random(f"{seed}:{self.name}:{key}:{step}")

    def wait(self, seconds: float) -> None:
        if self.simulation.latency_scale > 0:
            time.sleep(seconds * self.simulation.latency_scale)

    def maybe_fail(self, rng: random.Random, message: str) -> None:
        if rng.random() < self.simulation.failure_rate:
            raise VenueError(self.name, message)
