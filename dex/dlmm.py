"""Binned liquidity, as Meteora's DLMM prices it: constant price inside a bin, the next bin when one
runs dry, and a fee that grows with the bins a swap crosses.

Bin i quotes (1 + binStep/10000)^i units of quote per base. Liquidity sits around a centre bin and
thins out away from it by `decay` per bin, the shape liquidity providers keep near the market.
Bins below the active one hold only quote, bins above it only base, the active bin both.
"""

from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache

from dex.pools import Fill, InsufficientLiquidity, other_token, round_down
from dex.tokens import Token

# A swap crossing more bins than this is refused: past it the liquidity left is dust.
MAX_BINS_CROSSED = 150


# A bin's price is a power in the thousands: worth keeping, as every quote walks the same bins.
@lru_cache(maxsize=8192)
def _bin_price(bin_step: int, index: int) -> Decimal:
    return (1 + Decimal(bin_step) / 10_000) ** index


@lru_cache(maxsize=1024)
def _power(base: Decimal, exponent: int) -> Decimal:
    return base**exponent


@dataclass(frozen=True)
class BinPool:
    venue: str
    base: Token
    quote: Token
    bin_step: int  # basis points between neighbouring bins
    center: int  # the bin liquidity is thickest at
    active: int  # the bin the price is in
    active_quote_share: Decimal  # of the active bin's value, the part held in quote
    bin_value: Decimal  # value of the centre bin, in quote
    decay: Decimal  # each bin further from the centre holds this much of its neighbour's value
    base_fee: Decimal
    variable_fee_control: Decimal  # A in fee = base + A·(bins crossed · binStep/10000)²
    max_fee: Decimal

    def price(self, index: int) -> Decimal:
        return _bin_price(self.bin_step, index)

    def value(self, index: int) -> Decimal:
        return self.bin_value * _power(self.decay, abs(index - self.center))

    def fee_rate(self, crossed: int) -> Decimal:
        step = Decimal(self.bin_step) / 10_000
        return min(self.max_fee, self.base_fee + self.variable_fee_control * (crossed * step) ** 2)

    def holdings(self, index: int) -> tuple[Decimal, Decimal]:
        """(base, quote) in bin `index`."""
        value, price = self.value(index), self.price(index)
        if index < self.active:
            return Decimal(0), value
        if index > self.active:
            return value / price, Decimal(0)
        share = self.active_quote_share
        return (1 - share) * value / price, share * value

    def spot_price(self, token_in: str) -> Decimal:
        other_token(self, token_in)
        price = self.price(self.active)
        return price if token_in == self.base.symbol else 1 / price

    def swap(self, token_in: str, amount_in: Decimal) -> Fill:
        fill, _ = self._walk(token_in, amount_in)
        return fill

    def marginal_price(self, token_in: str, amount_in: Decimal) -> Decimal:
        try:
            fill, crossed = self._walk(token_in, amount_in)
        except InsufficientLiquidity:
            return Decimal(0)  # nothing more to be had: any further unit is better elsewhere
        after = fill.pool
        keep = 1 - self.fee_rate(crossed)
        return keep * after.spot_price(token_in)

    def _walk(self, token_in: str, amount_in: Decimal) -> tuple[Fill, int]:
        """Fill bin by bin from the active one: selling base walks down, buying it walks up."""
        token_out = other_token(self, token_in)
        selling_base = token_in == self.base.symbol
        step = -1 if selling_base else 1
        index, share = self.active, self.active_quote_share
        left, out, fees, crossed = amount_in, Decimal(0), Decimal(0), 0
        while left > 0:
            if crossed > MAX_BINS_CROSSED:
                raise InsufficientLiquidity(f"{self.venue} {self.base.symbol}/{self.quote.symbol} runs out of bins")
            value, price, rate = self.value(index), self.price(index), self.fee_rate(crossed)
            # What the bin can give, as the net input (in token_in) that would take all of it.
            available_value = value * share if selling_base else value * (1 - share)
            capacity = available_value / price if selling_base else available_value
            gross_capacity = capacity / (1 - rate)
            if left <= gross_capacity:
                net = left * (1 - rate)
                fees += left - net
                if selling_base:
                    out += net * price
                    share -= net * price / value
                else:
                    out += net / price
                    share += net / value
                left = Decimal(0)
            else:
                fees += gross_capacity - capacity
                out += available_value if selling_base else available_value / price
                left -= gross_capacity
                index += step
                share = Decimal(1) if selling_base else Decimal(0)
                crossed += 1
        after = replace(self, active=index, active_quote_share=min(Decimal(1), max(Decimal(0), share)))
        fill = Fill(
            token_in=token_in,
            token_out=token_out.symbol,
            amount_in=amount_in,
            fee=fees,
            amount_out=round_down(out, token_out),
            spot_price=self.spot_price(token_in),
            pool=after,
            bins_crossed=crossed,
        )
        return fill, crossed
