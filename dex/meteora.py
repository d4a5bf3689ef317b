"""Meteora: 0.2% fee, price within -3%..+2% of the reference."""

from decimal import Decimal

from dex.venue import SimulatedVenue


class Meteora(SimulatedVenue):
    name = "meteora"
    fee_rate = Decimal("0.002")
    band = (Decimal("0.97"), Decimal("1.02"))
