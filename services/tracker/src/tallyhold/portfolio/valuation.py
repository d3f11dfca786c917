"""Pure valuation: stored balances × stored prices → values, in one quote currency. No I/O here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Protocol

from tallyhold.portfolio.repository import HeldBalance, SourceRow
from tallyhold.prices.repository import PriceRow
from tallyhold.types import MONEY_PRECISION

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Quote:
    price: Decimal
    source: str
    at: datetime


@dataclass(frozen=True)
class ValuedBalance:
    asset: str
    amount: Decimal
    unconfirmed: Decimal | None
    quote: Quote | None
    value: Decimal | None
    connection: SourceRow
    location: str
    stale: bool


class SourceState(Protocol):
    """The columns staleness depends on: a connection row (ORM) or a `SourceRow`."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def last_sync_at(self) -> datetime | None: ...


def source_is_stale(connection: SourceState, now: datetime | None = None, max_age: timedelta | None = None) -> bool:
    """A source is stale when its last sync failed (it keeps its last good balances), it is not active, it
    never synced, or (given `now` and `max_age`) its last good sync is older than `max_age`."""
    if connection.kind == "manual":
        return False
    if connection.status != "active" or connection.last_error is not None or connection.last_sync_at is None:
        return True
    return now is not None and max_age is not None and now - connection.last_sync_at > max_age


def quote_for(held: HeldBalance, prices: dict[str, PriceRow], quote_currency: str) -> Quote | None:
    connection, asset = held.connection, held.balance.asset
    if connection.kind == "manual" and connection.manual_price is not None:
        if connection.manual_price_quote == quote_currency:
            return Quote(connection.manual_price, "manual", connection.updated_at)
        return None  # priced in another currency than the instance now reports in
    if asset == quote_currency:
        return Quote(Decimal(1), "identity", held.balance.updated_at)
    price = prices.get(asset)
    return Quote(price.price, price.source, price.observed_at) if price else None


def value_all(
    held: list[HeldBalance],
    prices: dict[str, PriceRow],
    quote_currency: str,
    now: datetime,
    price_max_age: timedelta,
    source_max_age: timedelta | None = None,
) -> list[ValuedBalance]:
    valued = []
    stale_sources: dict[uuid.UUID, bool] = {}
    with localcontext(prec=MONEY_PRECISION):
        for item in held:
            quote = quote_for(item, prices, quote_currency)
            price_stale = (
                quote is not None and quote.source not in {"manual", "identity"} and (now - quote.at > price_max_age)
            )
            source_stale = stale_sources.get(item.connection.id)
            if source_stale is None:
                source_stale = stale_sources[item.connection.id] = source_is_stale(item.connection, now, source_max_age)
            valued.append(
                ValuedBalance(
                    asset=item.balance.asset,
                    amount=item.balance.amount,
                    unconfirmed=item.balance.unconfirmed,
                    quote=quote,
                    value=item.balance.amount * quote.price if quote else None,
                    connection=item.connection,
                    location=item.balance.location,
                    stale=source_stale or price_stale,
                )
            )
    return valued


def priced_sum(valued: list[ValuedBalance]) -> Decimal:
    """The sum of every priced value; an unpriced line is left out, never counted as zero."""
    with localcontext(prec=MONEY_PRECISION):
        return sum((v.value for v in valued if v.value is not None), Decimal(0))


def percent(part: Decimal, total: Decimal) -> Decimal:
    if total == 0:
        return Decimal(0)
    with localcontext(prec=MONEY_PRECISION):
        return (part / total * HUNDRED).quantize(CENT, rounding=ROUND_HALF_EVEN)


def stale_connection_ids(
    valued: list[ValuedBalance],
    connections: list[SourceRow],
    now: datetime | None = None,
    source_max_age: timedelta | None = None,
) -> list[uuid.UUID]:
    ids = {c.id for c in connections if source_is_stale(c, now, source_max_age)}
    ids |= {v.connection.id for v in valued if v.stale}
    return sorted(ids, key=str)
