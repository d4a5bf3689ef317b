"""The route preview: what an order would do now, without placing one."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from dex.errors import NoRouteAvailable
from dex.tokens import TOKENS
from orders.quoting import quote_preview
from orders.serializers import PLAIN_DECIMAL, SYMBOL, QuotePreviewSerializer, QuoteRequestSerializer
from orders.views import COMMON_ERRORS, DETAIL, FIELD_ERRORS

# Seconds a client should wait before asking again when no venue answered.
RETRY_AFTER = 1


class QuotePreviewView(generics.GenericAPIView):
    serializer_class = QuoteRequestSerializer
    throttle_scope = "orders.read"

    @extend_schema(
        operation_id="quotes_preview",
        parameters=[
            OpenApiParameter("tokenIn", str, required=True, enum=list(TOKENS), description="The token to sell."),
            OpenApiParameter(
                "tokenOut",
                str,
                required=True,
                pattern=SYMBOL.pattern,
                description="The token to buy: a known one, or a new one listed for launch.",
            ),
            OpenApiParameter(
                "amount",
                str,
                required=True,
                pattern=PLAIN_DECIMAL.pattern,
                description="How much tokenIn to sell: a plain decimal, within tokenIn's decimal places.",
            ),
        ],
        responses={
            200: QuotePreviewSerializer,
            400: OpenApiResponse(FIELD_ERRORS, description="Invalid trade: a message per parameter."),
            422: OpenApiResponse(DETAIL, description="No route: no venue trades the pair, or not this much of it."),
            503: OpenApiResponse(DETAIL, description="No venue answered; `Retry-After` says when to ask again."),
            **COMMON_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        try:
            preview = quote_preview(**serializer.validated_data)
        except NoRouteAvailable as exc:
            if exc.unreachable:
                return Response(
                    {"detail": f"No venue answered: {exc}"},
                    status=status.HTTP_503_SERVICE_UNAVAILABLE,
                    headers={"Retry-After": str(RETRY_AFTER)},
                )
            return Response({"detail": f"No route: {exc}"}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(QuotePreviewSerializer(preview).data)
