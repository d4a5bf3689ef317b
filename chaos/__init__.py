"""The chaos run: orders placed while the engine's processes die and its servers restart."""
