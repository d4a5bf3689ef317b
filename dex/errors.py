"""Errors a venue raises; a transient one is worth retrying."""


class VenueError(Exception):
    """A transient venue failure: timeouts, dropped connections, a busy node."""

    def __init__(self, venue: str, message: str):
        super().__init__(f"{venue}: {message}")
        self.venue = venue


class NoRouteAvailable(VenueError):
    """No venue answered with a usable quote."""

    def __init__(self, errors: list[str]):
        super().__init__("router", "no venue could quote: " + "; ".join(errors))


class TransactionExpired(VenueError):
    """The transaction's blockhash expired before it landed: it never will, so a new one may go."""

    def __init__(self, venue: str, signature: str):
        super().__init__(venue, f"transaction {signature[:12]}... expired before it landed")
