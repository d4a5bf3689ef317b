"""Values the venues hand out: quotes, built transactions and executed swaps."""

import enum
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
    # Unix time after which the chain refuses it: its recent blockhash has expired. Until then
    # a transaction that was signed may still land, whatever its sender knows of it.
    valid_until: float


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


class TxStatus(enum.StrEnum):
    PENDING = "pending"  # received, not landed yet
    LANDED = "landed"
    EXPIRED = "expired"  # its blockhash expired before it could land: it never will


@dataclass(frozen=True)
class SentTransaction:
    """What the simulated chain knows of a transaction it received."""

    signature: str
    venue: str
    order_id: str
    lands_at: float
    result: SwapResult | None  # None: it expires instead of landing

    def status(self, now: float) -> TxStatus:
        if now < self.lands_at:
            return TxStatus.PENDING
        return TxStatus.LANDED if self.result else TxStatus.EXPIRED

    def to_dict(self) -> dict:
        return {**asdict(self), "result": self.result.to_dict() if self.result else None}

    @classmethod
    def from_dict(cls, data: dict) -> "SentTransaction":
        result = SwapResult.from_dict(data["result"]) if data["result"] else None
        return cls(**{**data, "result": result})
