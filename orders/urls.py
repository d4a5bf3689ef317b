"""REST routes of orders."""

from django.urls import path

from orders.quote_views import QuotePreviewView
from orders.views import OrderCancelView, OrderDetailView, OrderExecuteView, OrderListView

urlpatterns = [
    path("orders/execute", OrderExecuteView.as_view(), name="order-execute"),
    path("orders/", OrderListView.as_view(), name="order-list"),
    path("orders/<str:order_id>/", OrderDetailView.as_view(), name="order-detail"),
    path("quotes", QuotePreviewView.as_view(), name="quote-preview"),
    path("orders/<str:order_id>/cancel", OrderCancelView.as_view(), name="order-cancel"),
]
