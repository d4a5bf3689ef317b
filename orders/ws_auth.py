"""WebSocket authentication and origin check for the order stream.

Browsers cannot set an Authorization header on a WebSocket, so the API token travels as a
`Sec-WebSocket-Protocol` value (`new WebSocket(url, ["token", key])`), which no access log
records; `?token=<key>` is accepted too for simple clients.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.contrib.auth.models import AnonymousUser

from orders.authentication import active_account

TOKEN_SUBPROTOCOL = "token"


def offered_subprotocol(scope) -> str | None:
    """The subprotocol to accept: `token` when the client authenticates with it."""
    subprotocols = scope.get("subprotocols") or []
    return TOKEN_SUBPROTOCOL if subprotocols[:1] == [TOKEN_SUBPROTOCOL] else None


def token_key(scope) -> str | None:
    subprotocols = scope.get("subprotocols") or []
    if subprotocols[:1] == [TOKEN_SUBPROTOCOL] and len(subprotocols) > 1:
        return subprotocols[1]
    return parse_qs(scope["query_string"].decode("latin-1")).get("token", [None])[0]


def _account_for(key: str | None):
    return active_account(key) or AnonymousUser()


# On the loop's thread pool, not on the one thread database_sync_to_async shares by default: a burst
# of connecting subscribers then looks their tokens up in parallel.
account_for = database_sync_to_async(_account_for, thread_sensitive=False)


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope, user=await account_for(token_key(scope)))
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    """A browser's Origin must be one of ours; a client that sends none is not a browser."""

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)
