"""The simulated chain: every transaction it received, when it lands, what it executed, and the
state of every pool it moved.

It is the ground truth of what was executed: an order with two landed swaps swapped twice.
"""

import json
import threading
import time
from typing import Protocol

import redis

from dex.models import SentTransaction, SwapResult, TxStatus


class PoolsMoved(Exception):
    """A pool the transaction swaps against changed since it was read: price it again."""


# A pool's stored state: its version (0 before its first swap) and what its venue stored.
PoolState = tuple[int, dict | None]


class Ledger(Protocol):
    def send(self, tx: SentTransaction, pools: dict[str, tuple[int, dict]] | None = None) -> SentTransaction:
        """Record a received transaction; one already received under its signature is kept.

        `pools` holds, per pool key, the version the swap was priced at and the state after it:
        all are written with the transaction, or PoolsMoved is raised and nothing is.
        """

    def pool_states(self, keys: list[str]) -> dict[str, PoolState]: ...

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
        self._pools: dict[str, PoolState] = {}
        self._slot = 0

    def send(self, tx: SentTransaction, pools: dict[str, tuple[int, dict]] | None = None) -> SentTransaction:
        with self._lock:
            if tx.signature in self._by_signature:
                return self._by_signature[tx.signature]
            writes = pools or {}
            if any(self._pools.get(key, (0, None))[0] != version for key, (version, _) in writes.items()):
                raise PoolsMoved
            for key, (version, state) in writes.items():
                self._pools[key] = (version + 1, state)
            self._by_signature[tx.signature] = tx
            return tx

    def pool_states(self, keys: list[str]) -> dict[str, PoolState]:
        with self._lock:
            return {key: self._pools.get(key, (0, None)) for key in keys}

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
    # Stored, indexed by order and its pools moved in one step, or not at all. KEYS: the
    # transaction, the order's list, then each pool; ARGV: the transaction, its signature, then
    # each pool's expected version and new state. 0: already received; -1: a pool moved.
    _SEND = """
    if redis.call('EXISTS', KEYS[1]) == 1 then
        return 0
    end
    for i = 3, #KEYS do
        local version = redis.call('HGET', KEYS[i], 'v') or '0'
        if version ~= ARGV[2 * i - 3] then
            return -1
        end
    end
    redis.call('SET', KEYS[1], ARGV[1])
    redis.call('RPUSH', KEYS[2], ARGV[2])
    for i = 3, #KEYS do
        redis.call('HSET', KEYS[i], 'v', tonumber(ARGV[2 * i - 3]) + 1, 'state', ARGV[2 * i - 2])
    end
    return 1
    """

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._send = self._redis.register_script(self._SEND)

    def send(self, tx: SentTransaction, pools: dict[str, tuple[int, dict]] | None = None) -> SentTransaction:
        # The same signature is the same transaction: the chain keeps the first copy it received.
        keys = [f"{self.PREFIX}tx:{tx.signature}", f"{self.PREFIX}order:{tx.order_id}"]
        args = [json.dumps(tx.to_dict()), tx.signature]
        for key, (version, state) in (pools or {}).items():
            keys.append(f"{self.PREFIX}pool:{key}")
            args += [str(version), json.dumps(state)]
        stored = self._send(keys=keys, args=args)
        if stored == -1:
            raise PoolsMoved
        return tx if stored else self.get(tx.signature)

    def pool_states(self, keys: list[str]) -> dict[str, PoolState]:
        pipe = self._redis.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(f"{self.PREFIX}pool:{key}", "v", "state")
        states = {}
        for key, (version, state) in zip(keys, pipe.execute(), strict=True):
            states[key] = (int(version or 0), json.loads(state) if state else None)
        return states

    def get(self, signature: str) -> SentTransaction | None:
        raw = self._redis.get(f"{self.PREFIX}tx:{signature}")
        return SentTransaction.from_dict(json.loads(raw)) if raw else None

    def for_order(self, order_id: str) -> list[SentTransaction]:
        signatures = self._redis.lrange(f"{self.PREFIX}order:{order_id}", 0, -1)
        return [tx for tx in map(self.get, signatures) if tx is not None]

    def next_slot(self) -> int:
        return int(self._redis.incr(f"{self.PREFIX}slot"))
