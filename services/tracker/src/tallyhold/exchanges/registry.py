"""The supported venues: ccxt id → adapter. Importable anywhere: adapters never import ccxt themselves."""

from __future__ import annotations

from tallyhold.exchanges.model import VenueInfo
from tallyhold.exchanges.venues import binance, bybit, kraken, okx
from tallyhold.exchanges.venues.base import Adapter

_ALL: list[Adapter] = [
    binance.ADAPTER,
    kraken.ADAPTER,
    bybit.ADAPTER,
    okx.ADAPTER,
]
ADAPTERS: dict[str, Adapter] = {adapter.info.id: adapter for adapter in _ALL}


def adapter_for(venue: str) -> Adapter | None:
    return ADAPTERS.get(venue)


def venue_info(venue: str) -> VenueInfo | None:
    adapter = ADAPTERS.get(venue)
    return adapter.info if adapter is not None else None
