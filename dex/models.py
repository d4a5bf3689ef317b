"""Values the chain hands out: built transactions and executed swaps."""

import enum
from dataclasses import asdict, dataclass
from decimal import Decimal

from dex.routes import Route


@dataclass(frozen=True)
class Transaction:
    """A signed swap, not yet sent: on Solana the signature is known before submission."""

    signature: str
    venue: str  # every venue the route touches, as Route.venue
    order_id: str
    route: Route
    wraps_sol: bool
    # The swap's own check: it executes only if it yields at least this much.
    min_amount_out: Decimal
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
    # Each leg as executed: venue, tokens, amounts in and out, fee, price impact, as strings.
    legs: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        data = {key: str(value) if isinstance(value, Decimal) else value for key, value in asdict(self).items()}
        return {**data, "legs": list(self.legs)}

    @classmethod
    def from_dict(cls, data: dict) -> "SwapResult":
        decimals = {"amount_in", "amount_out", "price"}
        fields = {key: Decimal(value) if key in decimals else value for key, value in data.items()}
        return cls(**{**fields, "legs": tuple(data.get("legs", ()))})


class TxStatus(enum.StrEnum):
    PENDING = "pending"  # received, not landed yet
    LANDED = "landed"
    EXPIRED = "expired"  # its blockhash expired before it could land: it never will
    REFUSED = "refused"  # landed, but its minimum amount out was not met: nothing was swapped


@dataclass(frozen=True)
class SentTransaction:
    """What the simulated chain knows of a transaction it received."""

    signature: str
    venue: str
    order_id: str
    lands_at: float
    result: SwapResult | None  # None: it expires, or is refused, instead of swapping
    # When refused for slippage: what the swap would have yielded, and the minimum it had to.
    refused_out: Decimal | None = None
    min_amount_out: Decimal | None = None

    def status(self, now: float) -> TxStatus:
        if now < self.lands_at:
            return TxStatus.PENDING
        if self.result:
            return TxStatus.LANDED
        return TxStatus.REFUSED if self.refused_out is not None else TxStatus.EXPIRED

    def to_dict(self) -> dict:
        data = {**asdict(self), "result": self.result.to_dict() if self.result else None}
        return {key: str(value) if isinstance(value, Decimal) else value for key, value in data.items()}

    @classmethod
    def from_dict(cls, data: dict) -> "SentTransaction":
        result = SwapResult.from_dict(data["result"]) if data["result"] else None
        decimals = {
            key: Decimal(data[key]) if data.get(key) is not None else None for key in ("refused_out", "min_amount_out")
        }
        return cls(**{**data, "result": result, **decimals})
