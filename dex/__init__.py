"""Simulated Solana DEX venues (Raydium, Meteora), their shared ledger and the router.

Plain Python with no Django import: the engine passes latency scale, failure rates and seed in.
"""
