"""New tokens listed for launch: each gets a pool on one venue at a given time, and trades from then.

Shared through Redis like the ledger, so the web (accepting sniper orders), beat (triggering them)
and the workers (quoting the new pool) all see the same launches.
"""

import json
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Protocol

import redis

from dex.tokens import Token


@dataclass(frozen=True)
class Launch:
    token: Token
    venue: str
    launch_at: float  # Unix time the pool opens

    def launched(self, now: float) -> bool:
        return now >= self.launch_at

    def to_json(self) -> str:
        token = {**asdict(self.token), "reference_usd": str(self.token.reference_usd)}
        return json.dumps({"token": token, "venue": self.venue, "launch_at": self.launch_at})

    @classmethod
    def from_json(cls, raw: str) -> "Launch":
        data = json.loads(raw)
        token = Token(**{**data["token"], "reference_usd": Decimal(data["token"]["reference_usd"])})
        return cls(token=token, venue=data["venue"], launch_at=data["launch_at"])


class LaunchBoard(Protocol):
    def list(self, launch: Launch) -> None: ...

    def get(self, symbol: str) -> Launch | None: ...


class MemoryLaunchBoard:
    def __init__(self) -> None:
        self._launches: dict[str, Launch] = {}

    def list(self, launch: Launch) -> None:
        self._launches[launch.token.symbol] = launch

    def get(self, symbol: str) -> Launch | None:
        return self._launches.get(symbol)


class RedisLaunchBoard:
    KEY = "dex:launches"

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)

    def list(self, launch: Launch) -> None:
        self._redis.hset(self.KEY, launch.token.symbol, launch.to_json())

    def get(self, symbol: str) -> Launch | None:
        raw = self._redis.hget(self.KEY, symbol)
        return Launch.from_json(raw) if raw else None


def trading_token(board: LaunchBoard | None, symbol: str, venue: str, now: float | None = None) -> Token | None:
    """The launched token `symbol` if its pool is open on `venue`."""
    launch = board.get(symbol) if board else None
    if launch and launch.venue == venue and launch.launched(time.time() if now is None else now):
        return launch.token
    return None
