"""The simulated venues and the router: pure Python, fixed seed, no latency."""

import threading
from dataclasses import replace
from decimal import Decimal

import pytest

from dex.errors import NoRouteAvailable, QuoteExpired, SlippageExceeded, TransactionExpired, VenueError
from dex.ledger import MemoryLedger, swaps_for
from dex.meteora import Meteora
from dex.models import Quote, SentTransaction, SwapResult, TxStatus
from dex.raydium import Raydium
from dex.router import Router, best_quote, build_router
from dex.tokens import TOKENS, reference_price
from dex.venue import Simulation, base58

SEEDED = Simulation(latency_scale=0, seed=7)


def quote(venue: str, amount_out: str) -> Quote:
    return Quote(venue, "SOL", "USDC", Decimal(1), Decimal(100), Decimal("0.003"), Decimal(0), Decimal(amount_out))


def test_best_quote_is_the_largest_amount_out_after_fees():
    assert best_quote([quote("raydium", "99.1"), quote("meteora", "99.2")]).venue == "meteora"
    assert best_quote([quote("raydium", "99.3"), quote("meteora", "99.2")]).venue == "raydium"


def test_best_quote_breaks_a_tie_by_venue_order():
    assert best_quote([quote("raydium", "99.2"), quote("meteora", "99.2")]).venue == "raydium"
    assert best_quote([quote("meteora", "99.2"), quote("raydium", "99.2")]).venue == "meteora"


def test_no_quote_at_all_is_a_transient_error_naming_each_venue():
    with pytest.raises(NoRouteAvailable, match="raydium: down") as raised:
        best_quote([], {"raydium": "down", "meteora": "slow"})
    assert isinstance(raised.value, VenueError)


@pytest.mark.parametrize(
    ("venue_class", "fee", "low", "high"), [(Raydium, "0.003", "0.98", "1.02"), (Meteora, "0.002", "0.97", "1.02")]
)
def test_quotes_stay_in_the_venue_band_and_deduct_its_fee(venue_class, fee, low, high):
    venue = venue_class(simulation=SEEDED, ledger=MemoryLedger())
    for n in range(300):
        q = venue.quote("SOL", "USDC", Decimal("10"), key=str(n))
        assert Decimal(low) * 100 <= q.price <= Decimal(high) * 100
        assert q.fee_rate == Decimal(fee)
        assert q.amount_out == (q.amount_in * q.price * (1 - q.fee_rate)).quantize(Decimal("0.000001"), "ROUND_DOWN")


def test_amount_out_never_has_more_decimals_than_the_token():
    venue = Raydium(simulation=SEEDED, ledger=MemoryLedger())
    q = venue.quote("USDC", "BONK", Decimal("3.333333"), key="x")
    assert -q.amount_out.as_tuple().exponent <= TOKENS["BONK"].decimals


def test_reference_price_is_the_ratio_of_usd_prices():
    assert reference_price(TOKENS["SOL"], TOKENS["USDC"]) == Decimal(100)
    assert reference_price(TOKENS["USDC"], TOKENS["JUP"]) == Decimal("1.25")


def test_a_seed_makes_quotes_reproducible_and_keys_make_them_differ():
    first = Raydium(simulation=SEEDED, ledger=MemoryLedger()).quote("SOL", "USDC", Decimal(1), key="a")
    again = Raydium(simulation=SEEDED, ledger=MemoryLedger()).quote("SOL", "USDC", Decimal(1), key="a")
    other = Raydium(simulation=SEEDED, ledger=MemoryLedger()).quote("SOL", "USDC", Decimal(1), key="b")
    assert replace(first, expires_at=0) == replace(again, expires_at=0)
    assert first.amount_out != other.amount_out


def test_router_asks_both_venues_at_the_same_time():
    both_asking = threading.Barrier(2, timeout=5)

    class WaitsForTheOtherVenue:
        def quote(self, *args, **kwargs):
            # Passes only when the other venue is being asked at the same moment.
            both_asking.wait()
            return super().quote(*args, **kwargs)

    class SlowRaydium(WaitsForTheOtherVenue, Raydium):
        pass

    class SlowMeteora(WaitsForTheOtherVenue, Meteora):
        pass

    ledger = MemoryLedger()
    router = Router(
        [SlowRaydium(simulation=SEEDED, ledger=ledger), SlowMeteora(simulation=SEEDED, ledger=ledger)], ledger
    )
    routing = router.route("SOL", "USDC", Decimal(1), key="k")
    assert [q.venue for q in routing.quotes] == ["raydium", "meteora"]


def test_router_goes_on_with_the_venue_that_answered():
    router = build_router(simulation=Simulation(latency_scale=0, failure_rate=0.5, seed=1), ledger=MemoryLedger())
    routings = [router.route("SOL", "USDC", Decimal(1), key=str(n)) for n in range(200)]
    one_down = [r for r in routings if len(r.quotes) == 1]
    assert one_down
    assert all(r.best.venue not in r.errors and len(r.errors) == 1 for r in one_down)


def test_swap_lands_in_the_ledger_and_its_status_is_found_by_signature():
    ledger = MemoryLedger()
    venue = Meteora(simulation=SEEDED, ledger=ledger)
    q = venue.quote("SOL", "USDC", Decimal(2), key="k")
    tx = venue.build_swap(q, order_id="order-1", key="k", min_amount_out=Decimal(0))

    result = venue.submit(tx, key="k")

    assert tx.wraps_sol
    assert venue.get_status(tx.signature) is TxStatus.LANDED
    assert swaps_for(ledger, "order-1") == [result]
    assert abs(result.amount_out - q.amount_out) < q.amount_out * Decimal("0.01")
    assert result.price == (result.amount_out / 2).quantize(Decimal("1e-18"))
    assert venue.get_status("unknown") is None


def test_the_same_signature_sent_twice_executes_once():
    ledger = MemoryLedger()
    venue = Raydium(simulation=SEEDED, ledger=ledger)
    tx = venue.build_swap(
        venue.quote("SOL", "USDC", Decimal(1), key="k"), order_id="o", key="k", min_amount_out=Decimal(0)
    )

    venue.submit(tx, key="k")
    venue.submit(tx, key="k")

    assert len(swaps_for(ledger, "o")) == 1


def test_a_transaction_past_its_validity_expires_instead_of_landing():
    ledger = MemoryLedger()
    venue = Raydium(simulation=Simulation(latency_scale=0, seed=1, tx_validity=-1), ledger=ledger)
    tx = venue.build_swap(
        venue.quote("SOL", "USDC", Decimal(1), key="k"), order_id="o", key="k", min_amount_out=Decimal(0)
    )

    with pytest.raises(TransactionExpired):
        venue.submit(tx, key="k")

    assert venue.get_status(tx.signature) is TxStatus.EXPIRED
    assert swaps_for(ledger, "o") == []


def test_a_received_transaction_is_pending_until_its_time_then_landed_or_expired():
    result = SwapResult("t", "raydium", "o", "SOL", "USDC", Decimal(1), Decimal(99), Decimal(99), 1)
    lands = SentTransaction(signature="t", venue="raydium", order_id="o", lands_at=100.0, result=result)
    expires = SentTransaction(signature="s", venue="raydium", order_id="o", lands_at=100.0, result=None)

    assert (lands.status(99.9), lands.status(100.0)) == (TxStatus.PENDING, TxStatus.LANDED)
    assert (expires.status(99.9), expires.status(100.0)) == (TxStatus.PENDING, TxStatus.EXPIRED)


def test_a_lost_response_still_leaves_the_swap_landed():
    ledger = MemoryLedger()
    venue = Raydium(simulation=Simulation(latency_scale=0, lost_response_rate=1.0, seed=3), ledger=ledger)
    tx = venue.build_swap(
        venue.quote("USDC", "SOL", Decimal(5), key="k"), order_id="o", key="k", min_amount_out=Decimal(0)
    )

    with pytest.raises(VenueError, match="may have landed"):
        venue.submit(tx, key="k")

    assert venue.get_status(tx.signature) is TxStatus.LANDED


def test_a_failed_submission_lands_nothing():
    ledger = MemoryLedger()
    venue = Raydium(simulation=Simulation(latency_scale=0, failure_rate=1.0, seed=3), ledger=ledger)
    q = Raydium(simulation=SEEDED, ledger=ledger).quote("USDC", "SOL", Decimal(5), key="k")
    tx = venue.build_swap(q, order_id="o", key="k", min_amount_out=Decimal(0))

    with pytest.raises(VenueError):
        venue.submit(tx, key="k")

    assert swaps_for(ledger, "o") == []


def test_signatures_look_like_solana_signatures():
    tx = Raydium(simulation=Simulation(latency_scale=0), ledger=MemoryLedger()).build_swap(
        quote("raydium", "1"), order_id="o", key="k", min_amount_out=Decimal(0)
    )
    assert 80 <= len(tx.signature) <= 88
    assert base58(b"\0\x01") == "12"


def test_a_swap_below_its_minimum_is_refused_and_swaps_nothing():
    ledger = MemoryLedger()
    venue = Meteora(simulation=Simulation(latency_scale=0, seed=2, execution_drift=-0.05), ledger=ledger)
    q = venue.quote("SOL", "USDC", Decimal(10), key="k")
    minimum = q.amount_out * Decimal("0.99")
    tx = venue.build_swap(q, order_id="o", key="k", min_amount_out=minimum)

    with pytest.raises(SlippageExceeded) as refused:
        venue.submit(tx, key="k")

    assert refused.value.actual < refused.value.minimum == minimum
    assert venue.get_status(tx.signature) is TxStatus.REFUSED
    assert swaps_for(ledger, "o") == []


def test_larger_trades_move_more_between_quote_and_execution():
    venue = Raydium(simulation=Simulation(latency_scale=0, seed=4), ledger=MemoryLedger())

    def spread(amount: str) -> float:
        moves = []
        for n in range(200):
            q = venue.quote("SOL", "USDC", Decimal(amount), key=f"{amount}:{n}")
            moves.append(float(venue._executed_amount(q, venue._rng(str(n), "submit")) / q.amount_out - 1))
        return max(moves) - min(moves)

    assert spread("10000") > 5 * spread("1")


def test_an_expired_quote_is_neither_signed_nor_sent():
    ledger = MemoryLedger()
    venue = Raydium(simulation=Simulation(latency_scale=0, seed=4, quote_ttl=-1), ledger=ledger)
    q = venue.quote("SOL", "USDC", Decimal(1), key="k")
    fresh = Raydium(simulation=SEEDED, ledger=ledger).quote("SOL", "USDC", Decimal(1), key="k")
    tx = Raydium(simulation=SEEDED, ledger=ledger).build_swap(fresh, order_id="o", key="k", min_amount_out=Decimal(0))

    with pytest.raises(QuoteExpired):
        venue.build_swap(q, order_id="o", key="k", min_amount_out=Decimal(0))
    with pytest.raises(QuoteExpired):
        venue.submit(replace(tx, quote=q), key="k")
    assert ledger.for_order("o") == []
