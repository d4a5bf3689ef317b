"""The registry of tradable tokens: symbol, mint, decimals and a reference price in USD."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Token:
    symbol: str
    mint: str
    decimals: int
    reference_usd: Decimal


TOKENS: dict[str, Token] = {
    token.symbol: token
    for token in (
        Token("SOL", "So11111111111111111111111111111111111111112", 9, Decimal("100")),
        Token("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6, Decimal("1")),
        Token("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6, Decimal("1")),
        Token("BONK", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5, Decimal("0.00002")),
        Token("JUP", "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN", 6, Decimal("0.8")),
    )
}

SYMBOLS: tuple[str, ...] = tuple(TOKENS)


def get_token(symbol: str) -> Token | None:
    return TOKENS.get(symbol)


def reference_price(token_in: Token, token_out: Token) -> Decimal:
    """Units of token_out one unit of token_in is worth at reference prices."""
    return token_in.reference_usd / token_out.reference_usd
