"""Reference prices the venues start with (switchable through the control API), kept consistent across
venues so a demo's net worth does not depend on which venue priced an asset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

USD_PRICES: dict[str, Decimal] = {
    "BTC": Decimal("65000"),
    "ETH": Decimal("3200"),
    "SOL": Decimal("150"),
    "BNB": Decimal("580"),
    "XRP": Decimal("0.52"),
    "ADA": Decimal("0.45"),
    "DOT": Decimal("6.5"),
    "DOGE": Decimal("0.12"),
    "USDT": Decimal("1"),
    "USDC": Decimal("1"),
    "EUR": Decimal("1.08"),
    "USD": Decimal("1"),
    "GBP": Decimal("1.27"),
}


def ticker(base: str, quote: str) -> dict[str, Any]:
    """A ticker for base/quote from the reference prices, with a small spread and 24h range."""
    price = USD_PRICES[base] / USD_PRICES[quote]
    places = 2 if price >= 100 else 4 if price >= 1 else 8
    quantum = Decimal(1).scaleb(-places)
    last = price.quantize(quantum)
    return {
        "last": str(last),
        "bid": str((last - quantum).max(quantum)),
        "ask": str(last + quantum),
        "open": str((price * Decimal("0.98")).quantize(quantum)),
        "high": str((price * Decimal("1.03")).quantize(quantum)),
        "low": str((price * Decimal("0.97")).quantize(quantum)),
        "volume": "1250.5",
        "quote_volume": str((price * Decimal("1250.5")).quantize(quantum)),
    }


def tickers(*symbols: str) -> dict[str, dict[str, Any]]:
    result = {}
    for symbol in symbols:
        base, quote = symbol.split("/")
        result[symbol] = ticker(base, quote)
    return result
