"""Prices: the latest price of each asset in each quote currency, with its source and time."""
