"""The stack with none of the engine in it, served by daphne for bench/floor.py.

A POST is answered 201 with an order's JSON by a bare ASGI function; a WebSocket is accepted by a
Channels consumer of the engine's base class, sent five events as JSON text (an order's stream from
`pending` to `confirmed`) and closed. Neither reads a database, Redis or the request's body.
"""

import json

import django
from django.conf import settings

if not settings.configured:
    settings.configure(DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], INSTALLED_APPS=["channels"], SECRET_KEY="floor")
    django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

ORDER_ID = "0b7c7a43-0a58-4a3e-9a8c-0d9b5c1e2f3a"
STATUSES = ("pending", "routing", "building", "submitted", "confirmed")
EVENTS = [
    json.dumps(
        {
            "orderId": ORDER_ID,
            "seq": seq,
            "status": status,
            "timestamp": "2026-12-07T20:00:00.000000Z",
            "data": {"txHash": "5" * 88, "venue": "raydium", "amountOut": "99.123456"},
        }
    )
    for seq, status in enumerate(STATUSES, start=1)
]
PLACED = json.dumps({"orderId": ORDER_ID, "status": "pending", "tokenIn": "SOL", "tokenOut": "USDC"}).encode()


class FiveEvents(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        for text in EVENTS:
            await self.send(text_data=text)
        await self.close(code=1000)


async def placed(scope, receive, send) -> None:
    message = await receive()
    while message.get("more_body"):
        message = await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(PLACED)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": PLACED})


application = ProtocolTypeRouter(
    {"http": placed, "websocket": URLRouter([path("ws/orders/<str:order_id>/", FiveEvents.as_asgi())])}
)
