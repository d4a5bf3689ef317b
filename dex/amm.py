"""A constant-product pool, as Raydium's AMM prices: x·y = k, the fee taken on the input."""

from dataclasses import dataclass, replace
from decimal import Decimal

from dex.pools import Fill, other_token, round_down
from dex.tokens import Token


@dataclass(frozen=True)
class ConstantProductPool:
    venue: str
    base: Token
    quote: Token
    reserve_base: Decimal
    reserve_quote: Decimal
    fee_rate: Decimal

    def _reserves(self, token_in: str) -> tuple[Decimal, Decimal]:
        other_token(self, token_in)  # rejects a token the pool does not trade
        if token_in == self.base.symbol:
            return self.reserve_base, self.reserve_quote
        return self.reserve_quote, self.reserve_base

    def spot_price(self, token_in: str) -> Decimal:
        x, y = self._reserves(token_in)
        return y / x

    def swap(self, token_in: str, amount_in: Decimal) -> Fill:
        """amount out = y·dx' / (x + dx') with dx' = dx·(1 - fee); the fee stays outside the
        curve, so (x + dx')·(y - out) is never below x·y."""
        x, y = self._reserves(token_in)
        token_out = other_token(self, token_in)
        fee = amount_in * self.fee_rate
        net = amount_in - fee
        out = round_down(y * net / (x + net), token_out)
        if token_in == self.base.symbol:
            after = replace(self, reserve_base=x + net, reserve_quote=y - out)
        else:
            after = replace(self, reserve_quote=x + net, reserve_base=y - out)
        return Fill(token_in, token_out.symbol, amount_in, fee, out, y / x, after)

    def marginal_price(self, token_in: str, amount_in: Decimal) -> Decimal:
        """d(out)/d(in) after `amount_in`: (1 - fee)·x·y / (x + dx')²."""
        x, y = self._reserves(token_in)
        keep = 1 - self.fee_rate
        return keep * x * y / (x + keep * amount_in) ** 2
