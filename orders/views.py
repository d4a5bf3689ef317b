"""REST endpoints: place an order, list the history, show one order with its events, cancel one."""

from functools import partial
from uuid import UUID

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from orders.filters import OrderFilter
from orders.idempotency import (
    HEADER,
    VALID_KEY,
    StoredResponse,
    idempotency_key_clean,
    idempotency_key_run,
    idempotency_request_hash,
)
from orders.models import Order
from orders.pagination import OrderCursorPagination
from orders.selectors import order_detail_get, order_exists, order_list
from orders.serializers import OrderCreateSerializer, OrderDetailSerializer, OrderPlacedSerializer, OrderSerializer
from orders.services import order_cancel, order_create

DETAIL = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
# DRF's validation errors: a list of messages per field (`non_field_errors` for the whole body).
FIELD_ERRORS = {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
# A body that is not JSON at all gets one message instead.
PARSE_ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
# The error answers every endpoint may give, besides its own.
COMMON_ERRORS = {
    401: OpenApiResponse(DETAIL, description="No valid `Authorization: Token <key>` header."),
    429: OpenApiResponse(DETAIL, description="Too many requests from this account; `Retry-After` says when to retry."),
}


class OrderExecuteView(generics.GenericAPIView):
    serializer_class = OrderCreateSerializer
    throttle_scope = "orders.place"

    @extend_schema(
        request=OrderCreateSerializer,
        parameters=[
            OpenApiParameter(
                HEADER,
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                pattern=f"^{VALID_KEY.pattern}$",
                description="A new key for each order: 1 to 255 printable ASCII characters, a UUID say. A retry "
                "with the same key and body gets the first answer again and places no second order; keys are "
                "kept for at least IDEMPOTENCY_KEY_TTL_HOURS (24 h by default).",
            ),
            OpenApiParameter(
                "Idempotent-Replayed",
                str,
                location=OpenApiParameter.HEADER,
                response=[201],
                description='"true" when the answer is the stored one of an earlier request with the same key.',
            ),
        ],
        responses={
            201: OrderPlacedSerializer,
            400: OpenApiResponse(
                {"anyOf": [FIELD_ERRORS, PARSE_ERROR]},
                description="Invalid order: a message per field, or `detail` for a body that is not JSON.",
            ),
            401: COMMON_ERRORS[401],
            413: OpenApiResponse(DETAIL, description="The body is larger than REQUEST_BODY_MAX_BYTES."),
            429: OpenApiResponse(
                DETAIL, description="Throttled (with `Retry-After`), or ORDER_MAX_OPEN_PER_ACCOUNT orders are open."
            ),
            409: OpenApiResponse(DETAIL, description="A request with this Idempotency-Key is still in progress."),
            422: OpenApiResponse(DETAIL, description="This Idempotency-Key was used with a different request."),
        },
    )
    def post(self, request: Request) -> Response:
        key = idempotency_key_clean(request.headers.get(HEADER))
        request_hash = idempotency_request_hash(method=request.method, path=request.path, data=request.data)
        placed = idempotency_key_run(
            account=request.user, key=key, request_hash=request_hash, call=partial(self.place, request)
        )
        headers = {"Location": f"/api/orders/{placed.body['orderId']}/"}
        if placed.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(placed.body, status=placed.status, headers=headers)

    def place(self, request: Request) -> StoredResponse:
        """Validate the order and create it: the answer an idempotency key stores."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_create(account=request.user, **serializer.validated_data)
        body = OrderPlacedSerializer(order, context={"request": request}).data
        return StoredResponse(status=status.HTTP_201_CREATED, body=body)


@extend_schema(
    responses={
        200: OrderSerializer,
        400: OpenApiResponse(FIELD_ERRORS, description="A filter's value is invalid."),
        404: OpenApiResponse(DETAIL, description="The cursor is invalid."),
        **COMMON_ERRORS,
    }
)
class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    pagination_class = OrderCursorPagination
    throttle_scope = "orders.read"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return Order.objects.none()
        return order_list(account=self.request.user)


@extend_schema(
    responses={
        200: OrderDetailSerializer,
        404: OpenApiResponse(DETAIL, description="No order with this id belongs to the account."),
        **COMMON_ERRORS,
    }
)
class OrderDetailView(generics.RetrieveAPIView):
    serializer_class = OrderDetailSerializer
    throttle_scope = "orders.read"

    def get_object(self) -> Order:
        try:
            return order_detail_get(order_id=UUID(self.kwargs["order_id"]), account=self.request.user)
        except (ValueError, Order.DoesNotExist):
            raise Http404("Order not found.") from None


def owned_order_id(raw: str, account) -> UUID:
    """The id of an order of `account`; anything else is a 404, however it is wrong."""
    try:
        order_id = UUID(raw)
    except ValueError:
        raise Http404("Order not found.") from None
    if not order_exists(order_id=order_id, account=account):
        raise Http404("Order not found.")
    return order_id


@extend_schema(
    request=None,
    responses={
        200: OrderSerializer,
        404: OpenApiResponse(DETAIL, description="No order with this id belongs to the account."),
        409: OpenApiResponse(
            inline_serializer(
                "NotCancellable", fields={"detail": serializers.CharField(), "status": serializers.CharField()}
            ),
            description="The order is submitted or finished; `status` says which.",
        ),
        **COMMON_ERRORS,
    },
)
class OrderCancelView(generics.GenericAPIView):
    """Cancel an order not yet submitted; cancelling it again answers the same."""

    serializer_class = OrderSerializer
    throttle_scope = "orders.place"

    def post(self, request: Request, order_id: str) -> Response:
        order = order_cancel(order_id=owned_order_id(order_id, request.user), by="account")
        return Response(OrderSerializer(order).data)
