"""Values the venues hand out: quotes, built transactions and executed swaps."""

from dataclasses import asdict, dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Quote:
    venue: str
    token_in: str
    token_out: str
    amount_in: Decimal
    price: Decimal  # token_out per token_in before the fee
    fee_rate: Decimal
    fee: Decimal  # in token_out
    amount_out: Decimal  # what the trader receives, fee deducted


@dataclass(frozen=True)
class Transaction:
    """A signed swap, not yet sent: on Solana the signature is known before submission."""

    signature: str
    venue: str
    order_id: str
    quote: Quote
    wraps_sol: bool


@dataclass(frozen=True)
class SwapResult:
    """A swap that landed on the simulated chain."""

    signature: str
    venue: str
    order_id: str
    token_in: str
    token_out: str
    amount_in: Decimal
    amount_out: Decimal
    price: Decimal  # executed: amount_out / amount_in
    slot: int

    def to_dict(self) -> dict:
        return {key: str(value) if isinstance(value, Decimal) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "SwapResult":
        decimals = {"amount_in", "amount_out", "price"}
        return cls(**{key: Decimal(value) if key in decimals else value for key, value in data.items()})
