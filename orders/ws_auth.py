"""Where the order stream's token travels, and the origin check.

Browsers cannot set an Authorization header on a WebSocket, so the API token travels as a
`Sec-WebSocket-Protocol` value (`new WebSocket(url, ["token", key])`), which no access log
records; `?token=<key>` is accepted too for simple clients. The consumer looks the token up with
the order's history, in one hop (orders.consumers).
"""

from urllib.parse import parse_qs

from channels.security.websocket import OriginValidator

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


class BrowserOriginValidator(OriginValidator):
    """A browser's Origin must be one of ours; a client that sends none is not a browser."""

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)
