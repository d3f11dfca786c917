"""Connections: the customer's sources of holdings (exchange accounts, wallets, manual entries)."""
