"""The supported venues: ccxt id → adapter. Importable anywhere: adapters never import ccxt themselves."""

from __future__ import annotations

from tallyhold.exchanges.model import VenueInfo
from tallyhold.exchanges.venues import (
    binance,
    bitget,
    bitstamp,
    bitvavo,
    bybit,
    coinbase,
    cryptocom,
    gate,
    gemini,
    htx,
    kraken,
    kucoin,
    mexc,
    okx,
    onetrading,
)
from tallyhold.exchanges.venues.base import Adapter

_ALL: list[Adapter] = [
    binance.ADAPTER,
    kraken.ADAPTER,
    bybit.ADAPTER,
    okx.ADAPTER,
    coinbase.ADAPTER,
    kucoin.ADAPTER,
    bitget.ADAPTER,
    gemini.ADAPTER,
    gate.ADAPTER,
    htx.ADAPTER,
    mexc.ADAPTER,
    bitstamp.ADAPTER,
    bitvavo.ADAPTER,
    cryptocom.ADAPTER,
    onetrading.ADAPTER,
]
ADAPTERS: dict[str, Adapter] = {adapter.info.id: adapter for adapter in _ALL}


def adapter_for(venue: str) -> Adapter | None:
    return ADAPTERS.get(venue)


def venue_info(venue: str) -> VenueInfo | None:
    adapter = ADAPTERS.get(venue)
    return adapter.info if adapter is not None else None
