"""The order statuses and the one table of moves allowed between them."""

from django.db import models


class Status(models.TextChoices):
    PENDING = "pending"
    WAITING = "waiting"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# A retried attempt goes back to routing from wherever the failed one stopped; a swap that
# was submitted and is found to have landed is confirmed without routing again. An order can be
# cancelled until its transaction is submitted, never after. A limit order waits for its price,
# then routes like a market order, or expires.
ALLOWED_MOVES: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.ROUTING, Status.WAITING, Status.FAILED, Status.CANCELLED}),
    Status.WAITING: frozenset({Status.ROUTING, Status.CANCELLED, Status.EXPIRED}),
    Status.ROUTING: frozenset({Status.BUILDING, Status.ROUTING, Status.FAILED, Status.CANCELLED}),
    Status.BUILDING: frozenset({Status.SUBMITTED, Status.ROUTING, Status.FAILED, Status.CANCELLED}),
    Status.SUBMITTED: frozenset({Status.CONFIRMED, Status.ROUTING, Status.FAILED}),
    Status.CONFIRMED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}

CANCELLABLE: frozenset[Status] = frozenset(
    status for status, moves in ALLOWED_MOVES.items() if Status.CANCELLED in moves
)

TERMINAL: frozenset[Status] = frozenset(status for status, moves in ALLOWED_MOVES.items() if not moves)

# Listed rather than "not terminal", in the order declared, so that a query of an account's open
# orders names the statuses it reads and an index of exactly those serves it.
OPEN: tuple[Status, ...] = tuple(status for status in Status if status not in TERMINAL)


def can_move(current: str, to: str) -> bool:
    return Status(to) in ALLOWED_MOVES[Status(current)]
