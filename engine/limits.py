"""ASGI guard that refuses an HTTP request whose declared body is over the limit, before Django reads it."""

import json


class BodySizeLimit:
    def __init__(self, app, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length", b"0")
            if not length.isdigit() or int(length) > self.max_bytes:
                return await self._refuse(send)
        return await self.app(scope, receive, send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"Request body is larger than {self.max_bytes} bytes."}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
