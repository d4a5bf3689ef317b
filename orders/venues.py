"""The engine's one router over the simulated venues, built from settings once per process."""

from functools import cache

from django.conf import settings

from dex.launches import RedisLaunchBoard
from dex.ledger import RedisLedger
from dex.router import Router, build_router
from dex.venue import Simulation


@cache
def get_router() -> Router:
    simulation = Simulation(
        latency_scale=settings.DEX_LATENCY_SCALE,
        failure_rate=settings.DEX_FAILURE_RATE,
        lost_response_rate=settings.DEX_LOST_RESPONSE_RATE,
        seed=settings.DEX_SEED,
        tx_validity=settings.DEX_TX_VALIDITY,
        quote_ttl=settings.DEX_QUOTE_TTL,
        execution_drift=settings.DEX_EXECUTION_DRIFT,
        execution_volatility=settings.DEX_EXECUTION_VOLATILITY,
        market_step=settings.DEX_MARKET_STEP,
        pool_recovery=settings.DEX_POOL_RECOVERY,
    )
    return build_router(
        simulation=simulation,
        ledger=RedisLedger(settings.DEX_LEDGER_URL),
        launches=RedisLaunchBoard(settings.DEX_LEDGER_URL),
    )
