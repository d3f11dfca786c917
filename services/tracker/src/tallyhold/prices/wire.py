"""The `prices.tickers` egress operation's request and reply. Light on purpose: the API process imports this
module, the worker imports it together with ccxt (prices/tickers.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

# Currencies and coins through which an asset without a direct market in the quote currency is converted.
# Stablecoins are ordinary nodes here: USDT is worth what the USDT/USD (or USDT/EUR, ...) market says.
DEFAULT_BRIDGES = ("USD", "USDT", "USDC", "EUR", "GBP", "CHF", "BTC", "ETH")


class TickersRequest(BaseModel):
    venues: list[str] = Field(description="ccxt ids, in order of preference")
    assets: list[str] = Field(description="asset codes to price")
    quote: str
    bridges: list[str] = Field(default_factory=lambda: list(DEFAULT_BRIDGES))
    timeout_seconds: float = 10.0


class Ticker(BaseModel):
    venue: str
    base: str
    quote: str
    price: Decimal = Field(gt=0)
    at: datetime


class VenueFailure(BaseModel):
    venue: str
    code: str
    retry_after: float | None = None


class TickersReply(BaseModel):
    tickers: list[Ticker]
    failures: list[VenueFailure] = Field(default_factory=list)
