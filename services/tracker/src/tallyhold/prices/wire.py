"""The `prices.tickers` egress operation's request and reply. Light on purpose: the API process imports this
module, the worker imports it together with ccxt (prices/tickers.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from tallyhold.egress.protocol import WireMessage

# Currencies and coins through which an asset without a direct market in the quote currency is converted.
# Stablecoins are ordinary nodes here: USDT is worth what the USDT/USD (or USDT/EUR, ...) market says.
DEFAULT_BRIDGES = ("USD", "USDT", "USDC", "EUR", "GBP", "CHF", "BTC", "ETH")


class TickersRequest(WireMessage):
    venues: list[str] = Field(description="ccxt ids, in order of preference")
    assets: list[str] = Field(description="asset codes to price")
    quote: str
    bridges: list[str] = Field(default_factory=lambda: list(DEFAULT_BRIDGES))
    timeout_seconds: float = 10.0


class Ticker(WireMessage):
    venue: str
    base: str
    quote: str
    price: Decimal = Field(gt=0)
    at: datetime


class VenueFailure(WireMessage):
    venue: str
    code: str
    retry_after: float | None = None


class TickersReply(WireMessage):
    tickers: list[Ticker]
    failures: list[VenueFailure] = Field(default_factory=list)
