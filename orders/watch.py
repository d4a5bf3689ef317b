"""Print an order's status stream as it happens, from its first event to its last.

A client of the engine like any other, so it needs none of the engine's settings:
`.venv/bin/python -m orders.watch --token <token> <orderId>` works from any terminal.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable

import websockets

DEFAULT_URL = "ws://127.0.0.1:8000"


class WatchError(Exception):
    """Why the stream could not be followed to its end, in words for the person watching."""


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(prog=prog, description="Follow an order's WebSocket stream.")
    add_arguments(options)
    return options


def add_arguments(options: argparse.ArgumentParser) -> None:
    options.add_argument("order_id")
    options.add_argument("--url", default=DEFAULT_URL, help="base WebSocket URL of the engine")
    options.add_argument("--after", type=int, default=0, help="resume after this seq")
    options.add_argument("--token", default=os.environ.get("ENGINE_TOKEN", ""), help="API token ($ENGINE_TOKEN)")
    options.add_argument("--json", dest="raw", action="store_true", help="print the raw messages")


def watch(*, order_id: str, url: str, after: int, token: str, raw: bool, write: Callable[[str], None]) -> None:
    """Write one line per event until the order's stream ends. Raises WatchError."""
    if not token:
        raise WatchError("give the account's API token with --token or $ENGINE_TOKEN")
    try:
        asyncio.run(_follow(f"{url}/ws/orders/{order_id}/?after={after}", token=token, raw=raw, write=write))
    except OSError as exc:
        raise WatchError(f"cannot reach the engine at {url}: {exc}") from exc


async def _follow(url: str, *, token: str, raw: bool, write: Callable[[str], None]) -> None:
    # The token travels as a subprotocol, so it appears in no URL or access log.
    async with websockets.connect(url, subprotocols=["token", token]) as socket:
        async for text in socket:
            message = json.loads(text)
            if raw:
                write(text)
            elif "error" in message:
                raise WatchError(message["error"]["reason"])
            else:
                write(line(message))
    if socket.close_code == 4401:
        raise WatchError("the engine refused the token")


def line(message: dict) -> str:
    details = ", ".join(f"{key}={value}" for key, value in message["data"].items() if key != "quotes")
    quotes = message["data"].get("quotes")
    if quotes:
        details += " | " + "  ".join(f"{q['venue']}: {q['amountOut']}" for q in quotes)
    return f"{message['timestamp']}  #{message['seq']:<2} {message['status']:<10} {details}"


def main(argv: list[str] | None = None) -> int:
    arguments = parser("python -m orders.watch").parse_args(argv)
    try:
        watch(**vars(arguments), write=print)
    except WatchError as exc:
        print(f"watch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
