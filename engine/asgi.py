"""ASGI entry point: HTTP goes to Django, WebSockets to the order stream."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "engine.settings")

# Django must be set up before the routing imports models.
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import reverse  # noqa: E402

# Loaded now rather than at the first request, so that the views are frozen with the rest.
import engine.urls  # noqa: E402, F401
from engine.http import ThreadedWsgi  # noqa: E402
from engine.startup import freeze_startup_objects  # noqa: E402
from orders.routing import websocket_urlpatterns  # noqa: E402
from orders.ws_auth import BrowserOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": ThreadedWsgi(
            django_wsgi_app,
            threads=settings.WEB_THREADS,
            max_body_bytes=settings.REQUEST_BODY_MAX_BYTES,
            venue_threads=settings.WEB_VENUE_THREADS,
            venue_paths=[reverse("quote-preview")],
        ),
        "websocket": BrowserOriginValidator(
            URLRouter(websocket_urlpatterns),
            [*settings.ALLOWED_HOSTS, *settings.WEBSOCKET_ALLOWED_ORIGINS],
        ),
    }
)

freeze_startup_objects()
