"""Raydium: 0.3% fee, price within +-2% of the reference."""

from decimal import Decimal

from dex.venue import SimulatedVenue


class Raydium(SimulatedVenue):
    name = "raydium"
    fee_rate = Decimal("0.003")
    band = (Decimal("0.98"), Decimal("1.02"))
