"""Domain errors of orders and how the API answers them."""

import logging

from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class OrderError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST


class InvalidTransition(OrderError):
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, *, order_id, current: str, expected: str, to: str):
        super().__init__(f"order {order_id} is {current}, not {expected}; cannot move to {to}")
        self.current = current


class AttemptTaken(OrderError):
    """Another delivery of the order's task began this attempt first, or the order finished."""

    def __init__(self, *, order_id, attempt: int):
        super().__init__(f"attempt {attempt} of order {order_id} is taken or the order has finished")


class LimitNotReached(Exception):
    """By the time a triggered limit order was quoted, the price had moved back below its limit."""


class SwapInFlight(Exception):
    """A transaction of the order may still land; nothing new may be sent until it has or cannot."""

    def __init__(self, seconds: float):
        super().__init__(f"a transaction may still land within {seconds:.2f} s")
        self.seconds = seconds


class NotCancellable(OrderError):
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, *, current: str):
        super().__init__(f"The order is {current}; only an order not yet submitted can be cancelled.")
        self.current = current


class TooManyOpenOrders(OrderError):
    http_status = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, limit: int):
        super().__init__(
            f"This account already has {limit} open orders, the most it may have; "
            "wait for some to be confirmed or failed."
        )


class IdempotencyKeyReused(OrderError):
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used with a different request; "
            "send the same request to get its answer again, or a new key for a new order."
        )


class IdempotencyKeyInFlight(OrderError):
    http_status = status.HTTP_409_CONFLICT

    def __init__(self):
        super().__init__(
            "A request with this Idempotency-Key is still in progress; retry it shortly to get its answer."
        )


def api_exception_handler(exc, context):
    """DRF's handler, plus domain errors mapped to their status with a `detail` message.

    A database that cannot be reached (restarting, failing over) is a 503 with Retry-After,
    which clients retry, with an Idempotency-Key when placing orders; never a 500.
    """
    if isinstance(exc, NotCancellable):
        return Response({"detail": str(exc), "status": exc.current}, status=exc.http_status)
    if isinstance(exc, OrderError):
        return Response({"detail": str(exc)}, status=exc.http_status)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(
            {"detail": "The service is briefly unavailable; retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    return exception_handler(exc, context)
