"""Load benchmark of the engine: a burst of orders and a steady stream, timed end to end."""
