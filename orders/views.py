"""REST endpoints: place an order, list the history, show one order with its events."""

from uuid import UUID

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from orders.filters import OrderFilter
from orders.models import Order
from orders.pagination import OrderCursorPagination
from orders.selectors import order_detail_get, order_list
from orders.serializers import OrderCreateSerializer, OrderDetailSerializer, OrderPlacedSerializer, OrderSerializer
from orders.services import order_create


class OrderExecuteView(generics.GenericAPIView):
    serializer_class = OrderCreateSerializer
    throttle_scope = "orders.place"

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderPlacedSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = order_create(account=request.user, **serializer.validated_data)
        body = OrderPlacedSerializer(order, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"/api/orders/{order.id}/"})


class OrderListView(generics.ListAPIView):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    pagination_class = OrderCursorPagination
    throttle_scope = "orders.read"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no account
            return Order.objects.none()
        return order_list(account=self.request.user)


class OrderDetailView(generics.RetrieveAPIView):
    serializer_class = OrderDetailSerializer
    throttle_scope = "orders.read"

    def get_object(self) -> Order:
        try:
            return order_detail_get(order_id=UUID(self.kwargs["order_id"]), account=self.request.user)
        except (ValueError, Order.DoesNotExist):
            raise Http404("Order not found.") from None
