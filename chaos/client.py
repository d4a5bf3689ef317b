"""A client that keeps its promises through faults: it places each order with an Idempotency-Key,
retries until the engine answers, and follows the stream, resuming with `after=` on every drop."""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

TERMINAL = ("confirmed", "failed")
RETRY_PAUSE = 0.2


@dataclass
class Tracked:
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    order_id: str = ""
    posted_at: float = 0.0
    terminal_at: float | None = None
    status: str = ""
    seqs: list[int] = field(default_factory=list)
    reconnects: int = 0
    http_statuses: list[int] = field(default_factory=list)

    @property
    def gaps(self) -> int:
        """Events the subscriber never saw or saw twice or out of order."""
        return sum(1 for expected, seq in zip(range(1, len(self.seqs) + 1), self.seqs, strict=True) if seq != expected)


class Client:
    def __init__(self, base_url: str, token: str, deadline: float) -> None:
        self.base_url = base_url
        self.ws_url = "ws" + base_url.removeprefix("http")
        self.token = token
        self.deadline = deadline
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Token {token}"},
            timeout=10,
            limits=httpx.Limits(max_connections=50),
        )

    async def place_and_follow(self, order: Tracked) -> None:
        order.posted_at = time.time()
        await self._place(order)
        if order.order_id:
            await self._follow(order)

    async def _place(self, order: Tracked) -> None:
        body = {"tokenIn": "SOL", "tokenOut": "USDC", "amount": "1"}
        while time.time() < self.deadline:
            try:
                response = await self.http.post(
                    "/api/orders/execute", json=body, headers={"Idempotency-Key": order.key}
                )
            except httpx.TransportError:
                await asyncio.sleep(RETRY_PAUSE)
                continue
            order.http_statuses.append(response.status_code)
            if response.status_code == 201:
                order.order_id = response.json()["orderId"]
                return
            # 409: the same key is still in flight; 503: a server is restarting. Both say retry.
            await asyncio.sleep(RETRY_PAUSE)

    async def _follow(self, order: Tracked) -> None:
        while time.time() < self.deadline:
            after = order.seqs[-1] if order.seqs else 0
            url = f"{self.ws_url}/ws/orders/{order.order_id}/?after={after}"
            try:
                async with connect(url, subprotocols=["token", self.token], open_timeout=5) as socket:
                    async for text in socket:
                        message = json.loads(text)
                        order.seqs.append(message["seq"])
                        if message["status"] in TERMINAL:
                            order.status = message["status"]
                            order.terminal_at = time.time()
                            return
            except (OSError, WebSocketException, TimeoutError):
                pass
            order.reconnects += 1
            await asyncio.sleep(RETRY_PAUSE)

    async def close(self) -> None:
        await self.http.aclose()
