"""Errors a venue raises; a transient one is worth retrying."""


class VenueError(Exception):
    """A transient venue failure: timeouts, dropped connections, a busy node."""

    def __init__(self, venue: str, message: str):
        super().__init__(f"{venue}: {message}")
        self.venue = venue


class NoRouteAvailable(VenueError):
    """No route to be had: no venue answered (`unreachable`), or none trades the pair and amount."""

    def __init__(self, errors: list[str], *, unreachable: bool = False):
        super().__init__("router", "no venue could quote: " + "; ".join(errors))
        self.unreachable = unreachable


class TransactionExpired(VenueError):
    """The transaction's blockhash expired before it landed: it never will, so a new one may go."""

    def __init__(self, venue: str, signature: str):
        super().__init__(venue, f"transaction {signature[:12]}... expired before it landed")


class QuoteExpired(VenueError):
    """The quote is past its expiry: the venue will not execute it, so the engine quotes again."""

    def __init__(self, venue: str, quote_id: str):
        super().__init__(venue, f"quote {quote_id} expired")


class SlippageExceeded(Exception):
    """The swap would have yielded less than its minimum: it did not execute. Not transient."""

    def __init__(self, *, expected, minimum, actual):
        super().__init__(f"slippage exceeded: expected {expected}, minimum {minimum}, would get {actual}")
        self.expected, self.minimum, self.actual = expected, minimum, actual
