"""Best execution over pools: one venue alone, a split across venues, or two hops.

Pure functions of pool snapshots: the router feeds them what each venue answered, the chain
replays a chosen route against the pools as they stand when it lands.
"""

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

from dex.pools import Fill, InsufficientLiquidity, Pool, round_down, token_of

# Tokens a two-hop route may pass through, in order of preference on a tie.
HOP_TOKENS = ("USDC", "SOL")
# A split is settled once both legs' marginal prices agree to within this share (1 bp).
SPLIT_TOLERANCE = Decimal("0.0001")
SPLIT_ITERATIONS = 60


@dataclass(frozen=True)
class Leg:
    venue: str
    token_in: str
    token_out: str
    amount_in: Decimal
    amount_out: Decimal
    fee: Decimal  # in token_in
    price_impact: Decimal
    bins_crossed: int = 0

    @classmethod
    def of(cls, fill: Fill, venue: str) -> "Leg":
        return cls(
            venue=venue,
            token_in=fill.token_in,
            token_out=fill.token_out,
            amount_in=fill.amount_in,
            amount_out=fill.amount_out,
            fee=fill.fee,
            price_impact=fill.price_impact,
            bins_crossed=fill.bins_crossed,
        )

    @property
    def fee_rate(self) -> Decimal:
        return self.fee / self.amount_in if self.amount_in else Decimal(0)


@dataclass(frozen=True)
class Route:
    """A way to swap amount_in of token_in: legs side by side (a split) or one after the other."""

    kind: str  # "direct", "split" or "two_hop"
    token_in: str
    token_out: str
    amount_in: Decimal
    amount_out: Decimal
    legs: tuple[Leg, ...]
    # What the route would give for an infinitesimal amount, scaled up: its price impact's base.
    ideal_out: Decimal = Decimal(0)
    gain_bps: Decimal | None = None  # over the best single venue; None when no venue routes alone
    quote_id: str = ""
    expires_at: float = float("inf")  # Unix time; past it the venues no longer honour it
    pools: tuple[str, ...] = field(default=(), compare=False)  # the pool of each leg

    @property
    def venue(self) -> str:
        """Every venue the route touches, in leg order: 'raydium', or 'raydium+meteora'."""
        return "+".join(dict.fromkeys(leg.venue for leg in self.legs))

    @property
    def price(self) -> Decimal:
        return self.amount_out / self.amount_in

    @property
    def price_impact(self) -> Decimal:
        if not self.ideal_out:
            return Decimal(0)
        return max(Decimal(0), 1 - self.amount_out / self.ideal_out)

    def expired(self, now: float) -> bool:
        return now > self.expires_at


@dataclass(frozen=True)
class PoolRef:
    """A pool as a route sees it: where to find it again, and its state now."""

    key: str
    pool: Pool


def _fill(ref: PoolRef, token_in: str, amount: Decimal) -> Fill:
    return ref.pool.swap(token_in, amount)


def _net_spot(ref: PoolRef, token_in: str) -> Decimal:
    return ref.pool.marginal_price(token_in, Decimal(0))


def direct(ref: PoolRef, token_in: str, amount: Decimal) -> Route:
    fill = _fill(ref, token_in, amount)
    return Route(
        kind="direct",
        token_in=token_in,
        token_out=fill.token_out,
        amount_in=amount,
        amount_out=fill.amount_out,
        legs=(Leg.of(fill, ref.pool.venue),),
        ideal_out=amount * _net_spot(ref, token_in),
        pools=(ref.key,),
    )


def two_hop(first: PoolRef, second: PoolRef, token_in: str, amount: Decimal) -> Route:
    hop = _fill(first, token_in, amount)
    last = _fill(second, hop.token_out, hop.amount_out)
    return Route(
        kind="two_hop",
        token_in=token_in,
        token_out=last.token_out,
        amount_in=amount,
        amount_out=last.amount_out,
        legs=(Leg.of(hop, first.pool.venue), Leg.of(last, second.pool.venue)),
        ideal_out=amount * _net_spot(first, token_in) * _net_spot(second, hop.token_out),
        pools=(first.key, second.key),
    )


def split_amount(a: Pool, b: Pool, token_in: str, amount: Decimal) -> Decimal:
    """How much of `amount` goes to pool a for the most out of both: where the two marginal
    prices meet (to within SPLIT_TOLERANCE), or all to one pool if its margin never falls to the
    other's. Amounts out are concave in amount in, so the margins cross at most once."""

    def gap(to_a: Decimal) -> Decimal:
        return a.marginal_price(token_in, to_a) - b.marginal_price(token_in, amount - to_a)

    if gap(amount) >= 0:
        return amount
    if gap(Decimal(0)) <= 0:
        return Decimal(0)
    low, high = Decimal(0), amount
    # Binned margins are steps: they may never meet within the tolerance, so stop once the
    # interval is below the token's smallest unit as well.
    unit = Decimal(1).scaleb(-token_of(a, token_in).decimals)
    for _ in range(SPLIT_ITERATIONS):
        if high - low <= unit:
            break
        middle = (low + high) / 2
        margin_a = a.marginal_price(token_in, middle)
        margin_b = b.marginal_price(token_in, amount - middle)
        if abs(margin_a - margin_b) <= SPLIT_TOLERANCE * margin_b:
            low = high = middle
            break
        if margin_a > margin_b:
            low = middle
        else:
            high = middle
    return round_down((low + high) / 2, token_of(a, token_in))


def split(a: PoolRef, b: PoolRef, token_in: str, amount: Decimal) -> Route | None:
    """Both pools at once, or None when a split gains nothing over the better pool alone."""
    to_a = split_amount(a.pool, b.pool, token_in, amount)
    if to_a <= 0 or to_a >= amount:
        return None
    try:
        fill_a, fill_b = _fill(a, token_in, to_a), _fill(b, token_in, amount - to_a)
    except InsufficientLiquidity:
        return None
    # Margins within the tolerance leave a flat stretch where rounding decides: a split that does
    # not beat the better pool alone is no split.
    alone = [_amount_out(ref, token_in, amount) for ref in (a, b)]
    if fill_a.amount_out + fill_b.amount_out <= max(alone):
        return None
    ideal = max(_net_spot(a, token_in), _net_spot(b, token_in)) * amount
    return Route(
        kind="split",
        token_in=token_in,
        token_out=fill_a.token_out,
        amount_in=amount,
        amount_out=fill_a.amount_out + fill_b.amount_out,
        legs=(Leg.of(fill_a, a.pool.venue), Leg.of(fill_b, b.pool.venue)),
        ideal_out=ideal,
        pools=(a.key, b.key),
    )


Book = dict[str, dict[tuple[str, str], PoolRef]]  # venue -> (token, token) -> pool, both orders


def _pool(book: Book, venue: str, token_in: str, token_out: str) -> PoolRef | None:
    return book.get(venue, {}).get((token_in, token_out))


def _attempt(build, *args) -> Route | None:
    try:
        return build(*args)
    except InsufficientLiquidity:
        return None


def venue_route(book: Book, venue: str, token_in: str, token_out: str, amount: Decimal) -> Route | None:
    """The best this venue does alone: its direct pool, else two of its pools through a hop token."""
    pool = _pool(book, venue, token_in, token_out)
    if pool:
        return _attempt(direct, pool, token_in, amount)
    routes = []
    for hop in HOP_TOKENS:
        first, second = _pool(book, venue, token_in, hop), _pool(book, venue, hop, token_out)
        if hop not in (token_in, token_out) and first and second:
            routes.append(_attempt(two_hop, first, second, token_in, amount))
    return best([route for route in routes if route])


def candidates(book: Book, token_in: str, token_out: str, amount: Decimal) -> tuple[list[Route], list[Route]]:
    """(each venue's own best route, every route worth comparing), gains filled in.

    Venue routes come first, in the book's venue order, so on a tie the earlier venue wins.
    """
    venues = list(book)
    singles = [route for venue in venues if (route := venue_route(book, venue, token_in, token_out, amount))]
    routes = list(singles)
    direct_pools = [pool for venue in venues if (pool := _pool(book, venue, token_in, token_out))]
    for i, a in enumerate(direct_pools):
        for b in direct_pools[i + 1 :]:
            if route := _attempt(split, a, b, token_in, amount):
                routes.append(route)
    if not direct_pools:
        routes += _cross_venue_hops(book, venues, token_in, token_out, amount)
    reference = best(singles)
    return [with_gain(route, reference) for route in singles], [with_gain(route, reference) for route in routes]


def _cross_venue_hops(book: Book, venues: list[str], token_in: str, token_out: str, amount: Decimal) -> list[Route]:
    """Two hops, each on whichever venue does it best for the amount it carries."""
    routes = []
    for hop in HOP_TOKENS:
        if hop in (token_in, token_out):
            continue
        firsts = [pool for venue in venues if (pool := _pool(book, venue, token_in, hop))]
        seconds = [pool for venue in venues if (pool := _pool(book, venue, hop, token_out))]
        if not firsts or not seconds:
            continue
        first = max(firsts, key=lambda ref: _amount_out(ref, token_in, amount))
        carried = _amount_out(first, token_in, amount)
        second = max(seconds, key=lambda ref: _amount_out(ref, hop, carried))
        if route := _attempt(two_hop, first, second, token_in, amount):
            routes.append(route)
    return routes


def best_net_spot(book: Book, token_in: str, token_out: str) -> Decimal | None:
    """The best price net of fees for an infinitesimal trade: over direct pools, or else over two
    hops each on its best venue; None when nothing connects the tokens."""
    venues = list(book)
    prices = [_net_spot(pool, token_in) for venue in venues if (pool := _pool(book, venue, token_in, token_out))]
    if not prices:
        for hop in HOP_TOKENS:
            if hop in (token_in, token_out):
                continue
            firsts = [_net_spot(pool, token_in) for venue in venues if (pool := _pool(book, venue, token_in, hop))]
            seconds = [_net_spot(pool, hop) for venue in venues if (pool := _pool(book, venue, hop, token_out))]
            if firsts and seconds:
                prices.append(max(firsts) * max(seconds))
    return max(prices, default=None)


def _amount_out(ref: PoolRef, token_in: str, amount: Decimal) -> Decimal:
    try:
        return _fill(ref, token_in, amount).amount_out
    except InsufficientLiquidity:
        return Decimal(-1)


def best(routes: list[Route]) -> Route | None:
    """The route with the most out; max() keeps the first of equals, so list order breaks ties."""
    return max(routes, key=lambda route: route.amount_out) if routes else None


def with_gain(route: Route, reference: Route | None) -> Route:
    if reference is None or not reference.amount_out:
        return route
    gain = (route.amount_out / reference.amount_out - 1) * 10_000
    return replace(route, gain_bps=gain.quantize(Decimal("0.01"), ROUND_HALF_EVEN))


def replay(route: Route, pools: dict[str, Pool]) -> tuple[Decimal, dict[str, Pool], tuple[Leg, ...]]:
    """Execute the route's legs against `pools` as they stand now: (amount out, the pools after,
    the legs as executed). A split's legs keep their amounts in; a later hop takes all the
    previous one gave."""
    pools = dict(pools)
    received: dict[str, Decimal] = {}
    legs = []
    for leg, key in zip(route.legs, route.pools, strict=True):
        amount = leg.amount_in if leg.token_in == route.token_in else received.pop(leg.token_in, Decimal(0))
        fill = pools[key].swap(leg.token_in, amount)
        pools[key] = fill.pool
        received[fill.token_out] = received.get(fill.token_out, Decimal(0)) + fill.amount_out
        legs.append(Leg.of(fill, leg.venue))
    return received.get(route.token_out, Decimal(0)), pools, tuple(legs)
