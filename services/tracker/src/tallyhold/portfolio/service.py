from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.errors import Unprocessable
from tallyhold.portfolio.repository import PortfolioRepository, SourceRow
from tallyhold.portfolio.schemas import (
    AssetShare,
    BalanceItem,
    Balances,
    ConnectionShare,
    HistoryPoint,
    KindShare,
    NetWorth,
    NetWorthHistory,
    UnpricedHolding,
)
from tallyhold.portfolio.valuation import (
    ValuedBalance,
    percent,
    priced_sum,
    stale_connection_ids,
    value_all,
)
from tallyhold.types import MONEY_PRECISION

GroupBy = Literal["none", "asset", "connection"]
MAX_HISTORY_POINTS = 1000
DEFAULT_HISTORY_RANGE = timedelta(days=30)


@dataclass(frozen=True)
class Valued:
    sources: list[SourceRow]
    assets: list[ValuedBalance]
    liabilities: list[ValuedBalance]  # positive amounts and values, owed


async def _valued(
    session: AsyncSession, quote: str, price_max_age: timedelta, source_max_age: timedelta | None, now: datetime
) -> Valued:
    holdings = await PortfolioRepository(session).holdings(quote)
    return Valued(
        holdings.sources,
        value_all(holdings.held, holdings.prices, quote, now, price_max_age, source_max_age),
        value_all(holdings.owed, holdings.prices, quote, now, price_max_age, source_max_age),
    )


async def balances(
    session: AsyncSession,
    quote: str,
    group_by: GroupBy,
    price_max_age: timedelta,
    source_max_age: timedelta | None = None,
) -> Balances:
    valued = await _valued(session, quote, price_max_age, source_max_age, datetime.now(UTC))
    return Balances(
        quote=quote,
        group_by=group_by,
        items=_grouped(valued.assets, group_by),
        liabilities=_grouped(valued.liabilities, group_by),
    )


def _grouped(valued: list[ValuedBalance], group_by: GroupBy) -> list[BalanceItem]:
    if group_by == "none":
        return [_item(v.asset, [v], connection_id=v.connection.id, location=v.location) for v in valued]
    if group_by == "asset":
        by_asset: dict[str, list[ValuedBalance]] = defaultdict(list)
        for v in valued:
            by_asset[v.asset].append(v)
        return [_item(asset, group, connection_id=None, location=None) for asset, group in sorted(by_asset.items())]
    by_pair: dict[tuple[str, str], list[ValuedBalance]] = defaultdict(list)
    for v in valued:
        by_pair[(str(v.connection.id), v.asset)].append(v)
    return [
        _item(asset, group, connection_id=group[0].connection.id, location=None)
        for (_, asset), group in by_pair.items()
    ]


def _item(
    asset: str, group: list[ValuedBalance], *, connection_id: uuid.UUID | None, location: str | None
) -> BalanceItem:
    with localcontext(prec=MONEY_PRECISION):
        amount = sum((v.amount for v in group), Decimal(0))
        unconfirmed_parts = [v.unconfirmed for v in group if v.unconfirmed is not None]
        priced = all(v.quote is not None for v in group)
        values = [v.value for v in group if v.value is not None]
        # One price per asset and quote, except manual entries that carry their own: then show none.
        distinct_prices = {v.quote.price for v in group if v.quote is not None}
        price = distinct_prices.pop() if len(distinct_prices) == 1 and priced else None
        first_quote = group[0].quote if len(group) == 1 else None
        return BalanceItem(
            asset=asset,
            amount=amount,
            price=price,
            value=sum(values, Decimal(0)) if priced else None,
            stale=any(v.stale for v in group),
            unconfirmed=sum(unconfirmed_parts, Decimal(0)) if unconfirmed_parts else None,
            price_source=first_quote.source if first_quote else None,
            price_at=first_quote.at if first_quote else None,
            connection_id=connection_id,
            location=location,
        )


async def networth(
    session: AsyncSession, quote: str, price_max_age: timedelta, source_max_age: timedelta | None = None
) -> NetWorth:
    now = datetime.now(UTC)
    valued = await _valued(session, quote, price_max_age, source_max_age, now)
    connections = valued.sources
    with localcontext(prec=MONEY_PRECISION):
        gross = priced_sum(valued.assets)
        owed = priced_sum(valued.liabilities)
        total = gross - owed

        # Allocation is of what is owned: shares of the gross assets (equal to the total without debts).
        by_asset: dict[str, list[ValuedBalance]] = defaultdict(list)
        for v in valued.assets:
            by_asset[v.asset].append(v)
        asset_shares = []
        for asset, group in by_asset.items():
            item = _item(asset, group, connection_id=None, location=None)
            asset_shares.append(
                AssetShare(
                    asset=asset,
                    amount=item.amount,
                    price=item.price,
                    value=item.value,
                    percent=percent(item.value, gross) if item.value is not None else None,
                )
            )
        asset_shares.sort(key=lambda share: (-(share.value or Decimal(-1)), share.asset))

        # Per connection and per kind: net of their own debts, so they add up to the total.
        by_connection: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
        by_kind: dict[str, Decimal] = defaultdict(Decimal)
        for lines, sign in ((valued.assets, 1), (valued.liabilities, -1)):
            for v in lines:
                if v.value is not None:
                    by_connection[v.connection.id] += sign * v.value
                    by_kind[v.connection.kind] += sign * v.value
        stale = stale_connection_ids(valued.assets + valued.liabilities, connections, now, source_max_age)
        connection_shares = [
            ConnectionShare(
                connection_id=c.id,
                label=c.label,
                kind=c.kind,
                value=by_connection[c.id],
                percent=percent(by_connection[c.id], total),
                stale=c.id in stale,
            )
            for c in connections
        ]
        connection_shares.sort(key=lambda share: -share.value)
        kind_shares = [
            KindShare(kind=kind, value=value, percent=percent(value, total))
            for kind, value in sorted(by_kind.items(), key=lambda kv: -kv[1])
        ]

    priced = [v for v in valued.assets + valued.liabilities if v.value is not None]
    times = [v.quote.at for v in priced if v.quote is not None]
    times += [v.connection.last_sync_at or v.connection.updated_at for v in priced]
    return NetWorth(
        quote=quote,
        total=total,
        gross_assets=gross,
        liabilities_total=owed,
        as_of=min(times) if times else None,
        stale_sources=stale,
        unpriced=[
            UnpricedHolding(asset=v.asset, amount=v.amount, connection_id=v.connection.id)
            for v in valued.assets
            if v.value is None
        ],
        unpriced_liabilities=[
            UnpricedHolding(asset=v.asset, amount=v.amount, connection_id=v.connection.id)
            for v in valued.liabilities
            if v.value is None
        ],
        liabilities=_grouped(valued.liabilities, "none"),
        by_asset=asset_shares,
        by_connection=connection_shares,
        by_kind=kind_shares,
    )


async def history(
    session: AsyncSession, quote: str, start: datetime | None, end: datetime | None, step: timedelta | None
) -> HistorySeries:
    end = end or datetime.now(UTC)
    try:
        start = start or end - DEFAULT_HISTORY_RANGE
    except OverflowError:
        raise Unprocessable("end is too early to look back from.", code="invalid_range") from None
    if start.year < 1970 or end.year > 9000:
        # Postgres timestamps and date_bin arithmetic overflow near datetime's limits.
        raise Unprocessable("start and end must lie between 1970 and 9000.", code="invalid_range")
    if start.tzinfo is None or end.tzinfo is None:
        raise Unprocessable("start and end need a timezone (e.g. 2026-01-01T00:00:00Z).", code="invalid_range")
    if start >= end:
        raise Unprocessable("start must be before end.", code="invalid_range")
    # At most ~1000 points whatever the range: a step too fine for the range is widened, never refused.
    span = (end - start).total_seconds()
    # Buckets are aligned to `start` and `end` is inclusive: floor(span / step) + 1 buckets at most.
    min_step = math.ceil(span / (MAX_HISTORY_POINTS - 1))
    step_seconds = max(int(step.total_seconds()) if step else 0, min_step, 1)
    rows = await PortfolioRepository(session).history(quote, start, end, timedelta(seconds=step_seconds))
    return HistorySeries(quote=quote, start=start, end=end, step_seconds=step_seconds, rows=rows)


@dataclass(frozen=True)
class HistorySeries:
    """History as plain values: a year is ~1000 points, and pydantic models per point cost more than the query."""

    quote: str
    start: datetime
    end: datetime
    step_seconds: int
    rows: list[tuple[datetime, Decimal]]

    def model(self) -> NetWorthHistory:
        return NetWorthHistory(
            quote=self.quote,
            start=self.start,
            end=self.end,
            step_seconds=self.step_seconds,
            points=[HistoryPoint(t=t, total=total) for t, total in self.rows],
        )

    def json(self) -> bytes:
        """Exactly what `model().model_dump_json()` gives (a test holds them equal), several times faster."""
        with localcontext(prec=MONEY_PRECISION):
            points = [{"t": t, "total": _plain(total.normalize())} for t, total in self.rows]
        body = {
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "step_seconds": self.step_seconds,
            "points": points,
        }
        return orjson.dumps(body, option=orjson.OPT_UTC_Z)


def _plain(normalized: Decimal) -> str:
    text = format(normalized, "f")
    return "0" if text in {"-0", "0"} else text
