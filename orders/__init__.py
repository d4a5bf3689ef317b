"""Orders: their storage, state machine, API, execution and status stream."""
