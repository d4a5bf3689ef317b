"""The simulated chain: every transaction it received, when it lands, and what it executed.

It is the ground truth of what was executed: an order with two landed swaps swapped twice.
"""

import json
import threading
import time
from typing import Protocol

import redis

from dex.models import SentTransaction, SwapResult, TxStatus


class Ledger(Protocol):
    def send(self, tx: SentTransaction) -> SentTransaction:
        """Record a received transaction; one already received under its signature is kept."""

    def get(self, signature: str) -> SentTransaction | None: ...

    def for_order(self, order_id: str) -> list[SentTransaction]: ...

    def next_slot(self) -> int: ...


def swaps_for(ledger: Ledger, order_id: str, now: float | None = None) -> list[SwapResult]:
    """The swaps of an order that have landed by `now`."""
    now = time.time() if now is None else now
    return [tx.result for tx in ledger.for_order(order_id) if tx.status(now) is TxStatus.LANDED]


class MemoryLedger:
    """One process's chain, for unit tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_signature: dict[str, SentTransaction] = {}
        self._slot = 0

    def send(self, tx: SentTransaction) -> SentTransaction:
        with self._lock:
            return self._by_signature.setdefault(tx.signature, tx)

    def get(self, signature: str) -> SentTransaction | None:
        return self._by_signature.get(signature)

    def for_order(self, order_id: str) -> list[SentTransaction]:
        return [tx for tx in self._by_signature.values() if tx.order_id == order_id]

    def next_slot(self) -> int:
        with self._lock:
            self._slot += 1
            return self._slot


class RedisLedger:
    """The chain in Redis, so every worker process, and a retry on another one, sees the same."""

    PREFIX = "dex:"
    # Stored and indexed by order in one step, or not at all.
    _SEND = """
    if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
        redis.call('RPUSH', KEYS[2], ARGV[2])
        return 1
    end
    return 0
    """

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._send = self._redis.register_script(self._SEND)

    def send(self, tx: SentTransaction) -> SentTransaction:
        # The same signature is the same transaction: the chain keeps the first copy it received.
        keys = [f"{self.PREFIX}tx:{tx.signature}", f"{self.PREFIX}order:{tx.order_id}"]
        if self._send(keys=keys, args=[json.dumps(tx.to_dict()), tx.signature]):
            return tx
        return self.get(tx.signature)

    def get(self, signature: str) -> SentTransaction | None:
        raw = self._redis.get(f"{self.PREFIX}tx:{signature}")
        return SentTransaction.from_dict(json.loads(raw)) if raw else None

    def for_order(self, order_id: str) -> list[SentTransaction]:
        signatures = self._redis.lrange(f"{self.PREFIX}order:{order_id}", 0, -1)
        return [tx for tx in map(self.get, signatures) if tx is not None]

    def next_slot(self) -> int:
        return int(self._redis.incr(f"{self.PREFIX}slot"))
