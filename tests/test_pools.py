"""Pool pricing and route search: formulas pinned on worked numbers, properties checked by hypothesis."""

import contextlib
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dex.amm import ConstantProductPool
from dex.dlmm import BinPool
from dex.ledger import MemoryLedger
from dex.meteora import Meteora
from dex.pools import InsufficientLiquidity
from dex.raydium import Raydium
from dex.router import build_router
from dex.routes import PoolRef, candidates, direct, split
from dex.tokens import TOKENS
from dex.venue import Simulation

SOL, USDC, USDT = TOKENS["SOL"], TOKENS["USDC"], TOKENS["USDT"]


def cpmm(**changes) -> ConstantProductPool:
    pool = ConstantProductPool("raydium", SOL, USDC, Decimal(1000), Decimal(100_000), Decimal("0.003"))
    return replace(pool, **changes)


def bins(**changes) -> BinPool:
    pool = BinPool(
        venue="meteora",
        base=USDC,
        quote=USDT,
        bin_step=10,
        center=0,
        active=0,
        active_quote_share=Decimal("0.5"),
        bin_value=Decimal(1000),
        decay=Decimal("0.5"),
        base_fee=Decimal("0.002"),
        variable_fee_control=Decimal(100),
        max_fee=Decimal("0.1"),
    )
    return replace(pool, **changes)


# --- formulas on worked numbers -------------------------------------------------------------------


def test_constant_product_amount_out_fee_and_price_impact():
    fill = cpmm().swap("SOL", Decimal(10))

    # dx' = 10 * 0.997 = 9.97; out = 100000 * 9.97 / 1009.97 = 987.158034...
    assert fill.fee == Decimal("0.030")
    assert fill.amount_out == Decimal("987.158034")
    assert fill.spot_price == Decimal(100)
    # 1 - (987.158034 / 9.97) / 100
    assert fill.price_impact == 1 - Decimal("987.158034") / Decimal("9.97") / 100
    assert round(fill.price_impact, 6) == Decimal("0.009872")
    assert (fill.pool.reserve_base, fill.pool.reserve_quote) == (Decimal("1009.97"), Decimal("99012.841966"))


def test_constant_product_prices_the_other_direction_with_the_reserves_swapped():
    fill = cpmm().swap("USDC", Decimal(1000))

    # dy' = 997; out = 1000 * 997 / 100997 = 9.871580...
    assert fill.amount_out == Decimal("9.871580343")
    assert fill.pool.reserve_quote == Decimal(100_997)


def test_a_bin_fills_at_its_own_price_with_the_base_fee():
    fill = bins().swap("USDC", Decimal(100))

    # The active bin holds 500 USDT; 100 * 0.998 = 99.8 in at price 1 gives 99.8 out.
    assert (fill.fee, fill.amount_out, fill.bins_crossed) == (Decimal("0.200"), Decimal("99.8"), 0)
    assert fill.price_impact == 0
    assert fill.pool.active == 0
    assert fill.pool.active_quote_share == Decimal("0.4002")


def test_a_swap_that_empties_a_bin_steps_to_the_next_at_a_higher_fee():
    fill = bins().swap("USDC", Decimal(600))

    # Bin 0 gives all its 500 USDT for 500 / 0.998 in. The rest meets bin -1 (price 1.001^-1,
    # 500 USDT) at fee 0.002 + 100 * (1 * 0.001)^2 = 0.0021.
    left = Decimal(600) - Decimal(500) / Decimal("0.998")
    second = left * (1 - Decimal("0.0021")) / Decimal("1.001")
    assert fill.bins_crossed == 1
    assert fill.pool.active == -1
    assert fill.amount_out == (500 + second).quantize(Decimal("0.000001"), "ROUND_DOWN")
    assert bins().fee_rate(3) == Decimal("0.002") + 100 * Decimal("0.003") ** 2


def test_bins_sit_at_powers_of_one_plus_the_step_and_thin_out_from_the_centre():
    pool = bins(center=5)
    assert pool.price(3) == Decimal("1.001") ** 3
    assert pool.value(5) == 1000
    assert pool.value(7) == pool.value(3) == 250


def test_a_split_puts_the_amount_where_the_two_margins_meet():
    a = PoolRef("a", cpmm())
    b = PoolRef("b", cpmm(venue="meteora", reserve_base=Decimal(500), reserve_quote=Decimal(50_000)))

    route = split(a, b, "SOL", Decimal(90))

    # Same price and fee, a twice as deep: two thirds go to a, to within what 1 bp of margin allows.
    assert route.kind == "split"
    assert route.legs[0].amount_in == pytest.approx(Decimal(60), abs=Decimal("0.1"))
    margin_a = a.pool.marginal_price("SOL", route.legs[0].amount_in)
    margin_b = b.pool.marginal_price("SOL", route.legs[1].amount_in)
    assert abs(margin_a / margin_b - 1) <= Decimal("0.0001")


def test_small_orders_favour_meteora_and_large_ones_raydium():
    router = build_router(simulation=Simulation(latency_scale=0, seed=3, market_step=0), ledger=MemoryLedger())

    small = router.route("SOL", "USDC", Decimal(1), key="s")
    large = router.route("SOL", "USDC", Decimal(3000), key="l")

    assert small.best.venue == "meteora"
    assert large.best.kind == "split"
    raydium_leg = next(leg for leg in large.best.legs if leg.venue == "raydium")
    assert raydium_leg.amount_in > large.best.amount_in / 2
    assert large.best.gain_bps > 0


def test_a_pair_without_a_direct_pool_goes_through_a_hop_token():
    router = build_router(simulation=Simulation(latency_scale=0, seed=3), ledger=MemoryLedger())

    best = router.route("BONK", "JUP", Decimal(1_000_000), key="k").best

    assert best.kind == "two_hop"
    assert [leg.token_in for leg in best.legs] == ["BONK", best.legs[1].token_in]
    assert best.legs[0].token_out == best.legs[1].token_in in ("USDC", "SOL")
    assert best.legs[1].amount_in == best.legs[0].amount_out


# --- properties -----------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(5000), places=3)
# Bin 4607 is at 1.001^4607, about 100 USDC a SOL.
sol_bins = bins(base=SOL, quote=USDC, center=4607, active=4607, bin_value=Decimal(100_000), decay=Decimal("0.9"))
pools = st.sampled_from([cpmm(), sol_bins])


@given(pool=pools, token=st.sampled_from(["base", "quote"]), a=amounts, b=amounts)
def test_amount_out_grows_with_amount_in_and_its_marginal_price_falls(pool, token, a, b):
    token_in = getattr(pool, token).symbol
    small, large = sorted((a, b))
    assume(small < large)

    assert pool.swap(token_in, small).amount_out <= pool.swap(token_in, large).amount_out
    assert pool.marginal_price(token_in, small) >= pool.marginal_price(token_in, large)


@given(amount=amounts, deep=st.integers(min_value=100, max_value=5000))
def test_constant_product_conserves_its_invariant_net_of_the_fee(amount, deep):
    pool = cpmm(reserve_base=Decimal(deep), reserve_quote=Decimal(deep * 100))
    fill = pool.swap("SOL", amount)
    after = fill.pool

    assert after.reserve_base == pool.reserve_base + amount - fill.fee
    assert after.reserve_quote == pool.reserve_quote - fill.amount_out
    assert after.reserve_base * after.reserve_quote >= pool.reserve_base * pool.reserve_quote


@given(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1200), places=2), sell=st.booleans())
def test_bins_conserve_value_net_of_fees(amount, sell):
    pool = bins()
    token_in = "USDC" if sell else "USDT"
    fill = pool.swap(token_in, amount)
    span = range(-40, 41)

    def totals(p: BinPool) -> tuple[Decimal, Decimal]:
        held = [p.holdings(i) for i in span]
        return sum(b for b, _ in held), sum(q for _, q in held)

    (base_before, quote_before), (base_after, quote_after) = totals(pool), totals(fill.pool)
    gained, lost = (base_after - base_before, quote_before - quote_after)
    if not sell:
        gained, lost = quote_after - quote_before, base_before - base_after
    # What came in net of the fee is all in the bins; what went out left them (less rounding dust).
    assert abs(gained - (amount - fill.fee)) <= Decimal("1e-18") * amount
    assert Decimal("-1e-20") * amount <= lost - fill.amount_out < Decimal("0.000001") + Decimal("1e-18") * amount


@settings(max_examples=60, deadline=None)
@given(amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(20_000), places=2), seed=st.integers(0, 99))
def test_the_chosen_route_is_never_worse_than_either_venue_alone(amount, seed):
    router = build_router(simulation=Simulation(latency_scale=0, seed=seed), ledger=MemoryLedger())
    book = {name: venue.pools_between("SOL", "USDC", 1e9 + seed) for name, venue in router.venues.items()}

    singles, routes = candidates(book, "SOL", "USDC", amount)
    best = max(routes, key=lambda route: route.amount_out)

    assert all(best.amount_out >= single.amount_out for single in singles)
    assert best.gain_bps >= 0


@settings(max_examples=60, deadline=None)
@given(amount=st.decimals(min_value=Decimal(1), max_value=Decimal(20_000), places=2), seed=st.integers(0, 99))
def test_a_split_never_loses_to_its_best_leg_alone(amount, seed):
    router = build_router(simulation=Simulation(latency_scale=0, seed=seed), ledger=MemoryLedger())
    raydium, meteora = (
        venue.pools_between("SOL", "USDC", 1e9 + seed)[("SOL", "USDC")] for venue in router.venues.values()
    )

    route = split(raydium, meteora, "SOL", amount)
    alone = []
    for ref in (raydium, meteora):
        with contextlib.suppress(InsufficientLiquidity):  # a pool too thin to fill it alone
            alone.append(direct(ref, "SOL", amount).amount_out)

    if route is not None:
        assert route.amount_out >= max(alone)
        assert route.legs[0].amount_in + route.legs[1].amount_in == amount


@pytest.mark.parametrize("venue_class", [Raydium, Meteora])
@settings(max_examples=20, deadline=None)
@given(trades=st.lists(st.tuples(st.booleans(), st.decimals(Decimal("0.01"), Decimal(5), places=2)), max_size=40))
def test_a_pools_price_stays_inside_its_band_for_small_trades_over_a_long_walk(venue_class, trades):
    venue = venue_class(simulation=Simulation(latency_scale=0, seed=9, market_step=2), ledger=MemoryLedger())
    low, high = venue.band
    state = None
    for step in range(2000):
        now = 1e9 + 3.7 * step
        pool = venue.pool("SOL", "USDC", state, now)
        assert 100 * low <= pool.spot_price("SOL") <= 100 * high
        if step < len(trades):
            sell, amount = trades[step]
            fill = pool.swap("SOL" if sell else "USDC", amount if sell else amount * 100)
            state = venue.state(fill.pool, now)
