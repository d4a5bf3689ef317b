"""WebSocket routes: the seed's endpoint and a plain path, both to the order stream."""

from django.urls import path, re_path

from orders.consumers import OrderStreamConsumer

websocket_urlpatterns = [
    re_path(r"^api/orders/execute/?$", OrderStreamConsumer.as_asgi()),
    path("ws/orders/<str:order_id>/", OrderStreamConsumer.as_asgi()),
]
