"""URL map of the engine."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from engine.health import healthz, readyz
from engine.metrics_view import metrics

urlpatterns = [
    # The live dashboard: a page that uses the public API and stream like any client.
    path("", TemplateView.as_view(template_name="orders/dashboard.html"), name="dashboard"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("orders.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]
