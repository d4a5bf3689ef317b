"""The simulated venues and the router: pure Python, fixed seed, no latency."""

import contextlib
import random
import threading
from dataclasses import replace
from decimal import Decimal

import pytest

from dex.errors import NoRouteAvailable, QuoteExpired, SlippageExceeded, TransactionExpired, VenueError
from dex.ledger import MemoryLedger, swaps_for
from dex.meteora import Meteora
from dex.models import SentTransaction, SwapResult, TxStatus
from dex.raydium import Raydium
from dex.router import Router, base58, build_router
from dex.tokens import TOKENS, reference_price
from dex.venue import Simulation

SEEDED = Simulation(latency_scale=0, seed=7)


def router(**simulation) -> Router:
    return build_router(simulation=Simulation(**{"latency_scale": 0, "seed": 7, **simulation}), ledger=MemoryLedger())


def sent(router: Router, amount: str = "1", *, key: str = "k", order_id: str = "o", **swap):
    routing = router.route("SOL", "USDC", Decimal(amount), key=key)
    return router.build_swap(routing.best, order_id=order_id, key=key, **{"min_amount_out": Decimal(0), **swap})


def pool_states(router: Router) -> dict:
    return router.ledger.pool_states(["raydium:SOL/USDC", "meteora:SOL/USDC"])


def test_no_venue_answering_is_a_transient_error_naming_each_venue():
    with pytest.raises(NoRouteAvailable, match=r"raydium: .*timed out") as raised:
        router(failure_rate=1.0).route("SOL", "USDC", Decimal(1), key="k")
    assert isinstance(raised.value, VenueError)
    assert raised.value.unreachable


def test_a_pair_nothing_trades_has_no_route_and_says_so():
    with pytest.raises(NoRouteAvailable, match="no route") as raised:
        router().route("SOL", "NOPE", Decimal(1), key="k")
    assert not raised.value.unreachable


def test_amount_out_never_has_more_decimals_than_the_token():
    best = router().route("USDC", "BONK", Decimal("3.333333"), key="x").best
    assert -best.amount_out.as_tuple().exponent <= TOKENS["BONK"].decimals


def test_reference_price_is_the_ratio_of_usd_prices():
    assert reference_price(TOKENS["SOL"], TOKENS["USDC"]) == Decimal(100)
    assert reference_price(TOKENS["USDC"], TOKENS["JUP"]) == Decimal("1.25")


def test_a_seed_makes_routes_reproducible_while_the_market_holds_still():
    first = router(market_step=0).route("SOL", "USDC", Decimal(1), key="a").best
    again = router(market_step=0).route("SOL", "USDC", Decimal(1), key="a").best
    assert replace(first, expires_at=0) == replace(again, expires_at=0)


def test_router_asks_both_venues_at_the_same_time():
    both_asking = threading.Barrier(2, timeout=5)

    class WaitsForTheOtherVenue:
        def snapshot(self, *args, **kwargs):
            # Passes only when the other venue is being asked at the same moment.
            both_asking.wait()
            return super().snapshot(*args, **kwargs)

    ledger = MemoryLedger()
    venues = [
        type(f"Slow{cls.__name__}", (WaitsForTheOtherVenue, cls), {})(simulation=SEEDED, ledger=ledger)
        for cls in (Raydium, Meteora)
    ]
    routing = Router(venues, ledger).route("SOL", "USDC", Decimal(1), key="k")

    assert [q.venue for q in routing.quotes] == ["raydium", "meteora"]


def test_router_goes_on_with_the_venue_that_answered():
    flaky = router(failure_rate=0.5, seed=1)
    routings = []
    for n in range(200):
        with contextlib.suppress(NoRouteAvailable):
            routings.append(flaky.route("SOL", "USDC", Decimal(1), key=str(n)))
    one_down = [r for r in routings if len(r.quotes) == 1]
    assert one_down
    assert all(r.best.venue not in r.errors and len(r.errors) == 1 for r in one_down)


def test_swap_lands_in_the_ledger_and_its_status_is_found_by_signature():
    chain = router()
    tx = sent(chain, "2", order_id="order-1")

    result = chain.submit(tx, key="k")

    assert tx.wraps_sol
    assert chain.get_status(tx.signature) is TxStatus.LANDED
    assert swaps_for(chain.ledger, "order-1") == [result]
    assert abs(result.amount_out - tx.route.amount_out) < tx.route.amount_out * Decimal("0.01")
    assert result.price == (result.amount_out / 2).quantize(Decimal("1e-18"))
    assert [leg["venue"] for leg in result.legs] == [leg.venue for leg in tx.route.legs]
    assert chain.get_status("unknown") is None


def test_a_landed_swap_moves_its_pool_and_the_same_signature_sent_twice_executes_once():
    chain = router()
    tx = sent(chain)
    untouched = pool_states(chain)

    chain.submit(tx, key="k")
    moved = pool_states(chain)
    chain.submit(tx, key="k")

    assert len(swaps_for(chain.ledger, "o")) == 1
    assert moved != untouched
    assert pool_states(chain) == moved


def test_a_transaction_past_its_validity_expires_instead_of_landing_and_moves_no_pool():
    chain = router(tx_validity=-1)
    tx = sent(chain)

    with pytest.raises(TransactionExpired):
        chain.submit(tx, key="k")

    assert chain.get_status(tx.signature) is TxStatus.EXPIRED
    assert swaps_for(chain.ledger, "o") == []
    assert all(version == 0 for version, _ in pool_states(chain).values())


def test_a_received_transaction_is_pending_until_its_time_then_landed_or_expired():
    result = SwapResult("t", "raydium", "o", "SOL", "USDC", Decimal(1), Decimal(99), Decimal(99), 1)
    lands = SentTransaction(signature="t", venue="raydium", order_id="o", lands_at=100.0, result=result)
    expires = SentTransaction(signature="s", venue="raydium", order_id="o", lands_at=100.0, result=None)

    assert (lands.status(99.9), lands.status(100.0)) == (TxStatus.PENDING, TxStatus.LANDED)
    assert (expires.status(99.9), expires.status(100.0)) == (TxStatus.PENDING, TxStatus.EXPIRED)


def test_a_lost_response_still_leaves_the_swap_landed():
    chain = router(lost_response_rate=1.0, seed=3)
    tx = sent(chain)

    with pytest.raises(VenueError, match="may have landed"):
        chain.submit(tx, key="k")

    assert chain.get_status(tx.signature) is TxStatus.LANDED


def test_a_failed_submission_lands_nothing():
    ledger = MemoryLedger()
    tx = sent(build_router(simulation=SEEDED, ledger=ledger))
    failing = build_router(simulation=Simulation(latency_scale=0, failure_rate=1.0, seed=3), ledger=ledger)

    with pytest.raises(VenueError):
        failing.submit(tx, key="k")

    assert swaps_for(ledger, "o") == []


def test_signatures_look_like_solana_signatures():
    tx = sent(router(seed=None))
    assert 80 <= len(tx.signature) <= 88
    assert base58(b"\0\x01") == "12"


def test_a_swap_below_its_minimum_is_refused_and_swaps_nothing():
    chain = router(seed=2, execution_drift=-0.05)
    routing = chain.route("SOL", "USDC", Decimal(10), key="k")
    minimum = routing.best.amount_out * Decimal("0.99")
    tx = chain.build_swap(routing.best, order_id="o", key="k", min_amount_out=minimum)

    with pytest.raises(SlippageExceeded) as refused:
        chain.submit(tx, key="k")

    assert refused.value.actual < refused.value.minimum == minimum
    assert chain.get_status(tx.signature) is TxStatus.REFUSED
    assert swaps_for(chain.ledger, "o") == []
    assert all(version == 0 for version, _ in pool_states(chain).values())


def test_larger_trades_move_more_between_quote_and_execution():
    chain = router(seed=4)

    def spread(amount: str) -> float:
        route = chain.route("SOL", "USDC", Decimal(amount), key=amount).best
        moves = [float(chain._market_move(route, random.Random(n))) for n in range(200)]
        return max(moves) - min(moves)

    assert spread("10000") > 5 * spread("1")


def test_an_expired_quote_is_neither_signed_nor_sent():
    stale = router(quote_ttl=-1)
    routing = stale.route("SOL", "USDC", Decimal(1), key="k")
    fresh = sent(stale.__class__(list(router().venues.values()), stale.ledger))

    with pytest.raises(QuoteExpired):
        stale.build_swap(routing.best, order_id="o", key="k", min_amount_out=Decimal(0))
    with pytest.raises(QuoteExpired):
        stale.submit(replace(fresh, route=routing.best), key="k")
    assert stale.ledger.for_order("o") == []
