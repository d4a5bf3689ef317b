"""How token prices wander: a seeded, mean-reverting random walk that every process computes alike.

The walk is a moving average of seeded random steps, so it needs no shared state: any process
asking for a token's position at a moment gets the same answer, and it stays within [-1, 1].
"""

import hashlib
import math

# Stablecoins hold their peg; everything else wanders.
PEGGED = frozenset({"USDC", "USDT"})
WINDOW = 8


def _step(seed: int, symbol: str, index: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{symbol}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0  # uniform in [-1, 1)


def position(symbol: str, now: float, *, seed: int, step_seconds: float) -> float:
    """Where the token's price stands within its band at `now`: -1 (low edge) to 1 (high edge)."""
    if symbol in PEGGED or step_seconds <= 0:
        return 0.0
    steps = now / step_seconds
    index = math.floor(steps)
    # Linear between two steps' averages: the price glides rather than jumps, so what a swap
    # executes at barely differs from what it was quoted a moment before.
    before, after = _average(seed, symbol, index), _average(seed, symbol, index + 1)
    average = before + (after - before) * (steps - index)
    # The average of uniform steps rarely strays far from 0; widen it, within the band.
    return max(-1.0, min(1.0, 2.5 * average))


def _average(seed: int, symbol: str, index: int) -> float:
    return sum(_step(seed, symbol, index - back) for back in range(WINDOW)) / WINDOW


def pair_position(token_in: str, token_out: str, now: float, *, seed: int, step_seconds: float) -> float:
    """Where the price of token_in in token_out stands within its band."""
    moved = position(token_in, now, seed=seed, step_seconds=step_seconds)
    moved -= position(token_out, now, seed=seed, step_seconds=step_seconds)
    return max(-1.0, min(1.0, moved))
