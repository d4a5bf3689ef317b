"""What every liquidity pool answers, whatever its curve: a swap's fill and the price at the margin."""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from dex.tokens import Token


class InsufficientLiquidity(Exception):
    """The pool cannot fill the amount: it would run dry first."""


@dataclass(frozen=True)
class Fill:
    """One swap against one pool."""

    token_in: str
    token_out: str
    amount_in: Decimal
    fee: Decimal  # in token_in, taken off the input before it meets the curve
    amount_out: Decimal  # to the trader, rounded down to token_out's decimals
    spot_price: Decimal  # token_out per token_in before the swap, fee aside
    pool: "Pool"  # the pool after the swap
    bins_crossed: int = 0

    @property
    def price_impact(self) -> Decimal:
        """1 - effective price / spot price, the effective price net of the fee: what the trade's
        own size cost, not the venue's charge."""
        net = self.amount_in - self.fee
        if net <= 0 or self.spot_price <= 0:
            return Decimal(0)
        return max(Decimal(0), 1 - self.amount_out / net / self.spot_price)


class Pool(Protocol):
    venue: str
    base: Token
    quote: Token

    def swap(self, token_in: str, amount_in: Decimal) -> Fill: ...

    def marginal_price(self, token_in: str, amount_in: Decimal) -> Decimal:
        """Token_out per token_in for the next unit after `amount_in` has gone in, net of fees."""

    def spot_price(self, token_in: str) -> Decimal:
        """Token_out per token_in for an infinitesimal trade, before fees."""


def other_token(pool: Pool, token: str) -> Token:
    if token == pool.base.symbol:
        return pool.quote
    if token == pool.quote.symbol:
        return pool.base
    raise ValueError(f"{token} is not traded by the {pool.base.symbol}/{pool.quote.symbol} pool")


def token_of(pool: Pool, symbol: str) -> Token:
    return other_token(pool, other_token(pool, symbol).symbol)


def round_down(amount: Decimal, token: Token) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-token.decimals), ROUND_DOWN)
