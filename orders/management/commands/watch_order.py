"""Print an order's status stream as it happens, from its first event to its last."""

import asyncio
import json
import os

import websockets
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Follow an order's WebSocket stream and print each status change."

    def add_arguments(self, parser) -> None:
        parser.add_argument("order_id")
        parser.add_argument("--url", default="ws://127.0.0.1:8000", help="base WebSocket URL of the engine")
        parser.add_argument("--after", type=int, default=0, help="resume after this seq")
        parser.add_argument(
            "--token", default=os.environ.get("ENGINE_TOKEN", ""), help="API token (default: $ENGINE_TOKEN)"
        )
        parser.add_argument("--json", dest="raw", action="store_true", help="print the raw messages")

    def handle(self, *args, order_id: str, url: str, after: int, token: str, raw: bool, **options) -> None:
        if not token:
            raise CommandError("give the account's API token with --token or $ENGINE_TOKEN")
        try:
            asyncio.run(self.watch(f"{url}/ws/orders/{order_id}/?after={after}", token=token, raw=raw))
        except OSError as exc:
            raise CommandError(f"cannot reach the engine at {url}: {exc}") from exc

    async def watch(self, url: str, *, token: str, raw: bool) -> None:
        # The token travels as a subprotocol, so it appears in no URL or access log.
        async with websockets.connect(url, subprotocols=["token", token]) as socket:
            async for text in socket:
                message = json.loads(text)
                if raw:
                    self.stdout.write(text)
                elif "error" in message:
                    raise CommandError(message["error"]["reason"])
                else:
                    self.stdout.write(self.line(message))
        if socket.close_code == 4401:
            raise CommandError("the engine refused the token")

    @staticmethod
    def line(message: dict) -> str:
        details = ", ".join(f"{key}={value}" for key, value in message["data"].items() if key != "quotes")
        quotes = message["data"].get("quotes")
        if quotes:
            details += " | " + "  ".join(f"{q['venue']}: {q['amountOut']}" for q in quotes)
        return f"{message['timestamp']}  #{message['seq']:<2} {message['status']:<10} {details}"
