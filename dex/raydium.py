"""Raydium: constant-product pools with a 0.3% fee on the input, deep enough for large trades."""

from decimal import Decimal

from dex.amm import ConstantProductPool
from dex.venue import SimulatedVenue


class Raydium(SimulatedVenue):
    name = "raydium"
    fee_rate = Decimal("0.003")
    band = (Decimal("0.98"), Decimal("1.02"))
    # (base, quote) -> USD value on each side of the pool.
    pools = {
        ("SOL", "USDC"): Decimal(4_000_000),
        ("SOL", "USDT"): Decimal(1_000_000),
        ("USDC", "USDT"): Decimal(2_000_000),
        ("BONK", "SOL"): Decimal(500_000),
        ("JUP", "SOL"): Decimal(400_000),
        ("JUP", "USDC"): Decimal(800_000),
    }
    launch_size = Decimal(50_000)

    def pool(self, base: str, quote: str, state: dict | None, now: float) -> ConstantProductPool:
        """Reserves at `now`: the stored liquidity, at the market's price plus what is left of the
        last swap's displacement. Recovery moves the price, not the depth: sqrt(x·y) holds."""
        base_token, quote_token = self.token(base), self.token(quote)
        target = self.target_price(base, quote, now)
        if state is None:
            side = self.size(base, quote)
            liquidity = (side / base_token.reference_usd * side / quote_token.reference_usd).sqrt()
            price = target
        else:
            liquidity = Decimal(state["liquidity"])
            price = target * self.recovered(Decimal(state["displacement"]), state["at"], now).exp()
        root = price.sqrt()
        return ConstantProductPool(
            venue=self.name,
            base=base_token,
            quote=quote_token,
            reserve_base=liquidity / root,
            reserve_quote=liquidity * root,
            fee_rate=self.fee_rate,
        )

    def state(self, pool: ConstantProductPool, now: float) -> dict:
        price = pool.reserve_quote / pool.reserve_base
        target = self.target_price(pool.base.symbol, pool.quote.symbol, now)
        return {
            "liquidity": str((pool.reserve_base * pool.reserve_quote).sqrt()),
            "displacement": str((price / target).ln()),
            "at": now,
        }
