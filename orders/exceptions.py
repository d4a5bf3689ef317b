"""Domain errors of orders and how the API answers them."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class OrderError(Exception):
    http_status = status.HTTP_400_BAD_REQUEST


class InvalidTransition(OrderError):
    http_status = status.HTTP_409_CONFLICT

    def __init__(self, *, order_id, current: str, expected: str, to: str):
        super().__init__(f"order {order_id} is {current}, not {expected}; cannot move to {to}")
        self.current = current


class TooManyOpenOrders(OrderError):
    http_status = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, limit: int):
        super().__init__(
            f"This account already has {limit} open orders, the most it may have; "
            "wait for some to be confirmed or failed."
        )


def api_exception_handler(exc, context):
    """DRF's handler, plus domain errors mapped to their status with a `detail` message."""
    if isinstance(exc, OrderError):
        return Response({"detail": str(exc)}, status=exc.http_status)
    return exception_handler(exc, context)
