"""The simulated chain's record of landed swaps, shared by every process that executes orders."""

import json
import threading
from typing import Protocol

import redis

from dex.models import SwapResult


class Ledger(Protocol):
    def record(self, result: SwapResult) -> None: ...

    def get(self, signature: str) -> SwapResult | None: ...

    def swaps_for(self, order_id: str) -> list[SwapResult]: ...

    def next_slot(self) -> int: ...


class MemoryLedger:
    """One process's ledger, for unit tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_signature: dict[str, SwapResult] = {}
        self._slot = 0

    def record(self, result: SwapResult) -> None:
        with self._lock:
            self._by_signature[result.signature] = result

    def get(self, signature: str) -> SwapResult | None:
        return self._by_signature.get(signature)

    def swaps_for(self, order_id: str) -> list[SwapResult]:
        return [swap for swap in self._by_signature.values() if swap.order_id == order_id]

    def next_slot(self) -> int:
        with self._lock:
            self._slot += 1
            return self._slot


class RedisLedger:
    """The ledger in Redis, so a retry on another worker process sees the swaps of the first."""

    PREFIX = "dex:"

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)

    def record(self, result: SwapResult) -> None:
        pipe = self._redis.pipeline()
        pipe.set(f"{self.PREFIX}tx:{result.signature}", json.dumps(result.to_dict()))
        pipe.rpush(f"{self.PREFIX}order:{result.order_id}", result.signature)
        pipe.incr(f"{self.PREFIX}swaps")
        pipe.execute()

    def get(self, signature: str) -> SwapResult | None:
        raw = self._redis.get(f"{self.PREFIX}tx:{signature}")
        return SwapResult.from_dict(json.loads(raw)) if raw else None

    def swaps_for(self, order_id: str) -> list[SwapResult]:
        signatures = self._redis.lrange(f"{self.PREFIX}order:{order_id}", 0, -1)
        return [swap for swap in map(self.get, signatures) if swap is not None]

    def next_slot(self) -> int:
        return int(self._redis.incr(f"{self.PREFIX}slot"))
