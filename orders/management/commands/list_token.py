"""List a new token for launch on a simulated venue, for sniper orders to wait for."""

import time
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from dex.launches import Launch
from dex.tokens import TOKENS, Token
from orders.venues import get_router


class Command(BaseCommand):
    help = "List a token whose pool launches on a venue after a delay (or at once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("symbol")
        parser.add_argument("--price", default="0.01", help="reference price in USD")
        parser.add_argument("--decimals", type=int, default=6)
        parser.add_argument("--venue", choices=["raydium", "meteora"], default="raydium")
        parser.add_argument("--launch-in", type=float, default=30.0, help="seconds from now (0: now)")

    def handle(self, *args, symbol: str, price: str, decimals: int, venue: str, launch_in: float, **options) -> None:
        if symbol in TOKENS:
            raise CommandError(f"{symbol} already trades")
        try:
            reference = Decimal(price)
        except InvalidOperation as exc:
            raise CommandError(f"--price {price!r} is not a number") from exc
        token = Token(symbol=symbol, mint=f"{symbol}mint{int(time.time())}", decimals=decimals, reference_usd=reference)
        launch = Launch(token=token, venue=venue, launch_at=time.time() + max(0.0, launch_in))
        get_router().launches.list(launch)
        self.stdout.write(f"{symbol} listed: its pool opens on {venue} in {max(0.0, launch_in):g} s")
