"""Meteora: binned liquidity (DLMM), a 0.2% base fee plus a part that grows with the bins crossed.

Its liquidity is concentrated around the pool's price, where its providers keep it: cheaper than
Raydium for small trades, thin for large ones.
"""

import math
from decimal import Decimal

from dex.dlmm import BinPool
from dex.venue import SimulatedVenue

DECAY = Decimal("0.8")
VARIABLE_FEE_CONTROL = Decimal(100)
MAX_FEE = Decimal("0.1")
# Basis points between bins: tight for stablecoins, wide for volatile tokens.
BIN_STEPS = {("USDC", "USDT"): 1, ("BONK", "SOL"): 25, ("BONK", "USDC"): 25, ("JUP", "USDC"): 20}
BIN_STEP = 10


class Meteora(SimulatedVenue):
    name = "meteora"
    fee_rate = Decimal("0.002")
    band = (Decimal("0.97"), Decimal("1.02"))
    # (base, quote) -> USD value of the centre bin; each further bin holds DECAY of its neighbour.
    pools = {
        ("SOL", "USDC"): Decimal(20_000),
        ("SOL", "USDT"): Decimal(5_000),
        ("USDC", "USDT"): Decimal(50_000),
        ("BONK", "SOL"): Decimal(3_000),
        ("BONK", "USDC"): Decimal(3_000),
        ("JUP", "USDC"): Decimal(5_000),
    }
    launch_size = Decimal(2_000)

    def pool(self, base: str, quote: str, state: dict | None, now: float) -> BinPool:
        """Bins at `now`: the active one at the market's price, still displaced by what is left of
        the last swap's move, and liquidity centred on it again, as providers rebalance between
        blocks. So a stream of swaps moves the price bin by bin rather than draining the pool."""
        step = BIN_STEPS.get((base, quote), BIN_STEP)
        center = self._market_bin(base, quote, step, now)
        displacement, share = 0, Decimal("0.5")
        if state is not None:
            left = self.recovered(Decimal(state["displacement"]), state["at"], now)
            displacement, share = round(left), Decimal(state["share"])
        quote_token = self.token(quote)
        return BinPool(
            venue=self.name,
            base=self.token(base),
            quote=quote_token,
            bin_step=step,
            center=center + displacement,
            active=center + displacement,
            active_quote_share=share,
            bin_value=self.size(base, quote) / quote_token.reference_usd,
            decay=DECAY,
            base_fee=self.fee_rate,
            variable_fee_control=VARIABLE_FEE_CONTROL,
            max_fee=MAX_FEE,
        )

    def state(self, pool: BinPool, now: float) -> dict:
        step = BIN_STEPS.get((pool.base.symbol, pool.quote.symbol), BIN_STEP)
        market = self._market_bin(pool.base.symbol, pool.quote.symbol, step, now)
        return {"displacement": pool.active - market, "share": str(pool.active_quote_share), "at": now}

    def _market_bin(self, base: str, quote: str, step: int, now: float) -> int:
        """The bin where the market, left alone, holds the pool's price."""
        return round(math.log(self.target_price(base, quote, now)) / math.log1p(step / 10_000))
