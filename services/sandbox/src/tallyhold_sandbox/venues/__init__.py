"""The sandbox venues by ccxt id."""

from __future__ import annotations

from tallyhold_sandbox.venues.base import Venue
from tallyhold_sandbox.venues.binance import Binance
from tallyhold_sandbox.venues.bybit import Bybit
from tallyhold_sandbox.venues.coinbase import Coinbase
from tallyhold_sandbox.venues.kraken import Kraken
from tallyhold_sandbox.venues.okx import Okx

VENUES: dict[str, type[Venue]] = {venue.name: venue for venue in (Binance, Bybit, Coinbase, Kraken, Okx)}
