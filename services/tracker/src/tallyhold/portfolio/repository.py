from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Boolean, DateTime, Interval, Numeric, delete, false, func, literal, null, select, true, union_all
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import Balance, Connection, Liability, NetWorthSnapshot, Price
from tallyhold.prices.repository import PriceRow


@dataclass(frozen=True, slots=True)
class SourceRow:
    """What valuation needs of a connection: plain values, not an ORM entity (a read path for every request)."""

    id: uuid.UUID
    kind: str
    label: str
    status: str
    last_error: str | None
    last_sync_at: datetime | None
    updated_at: datetime
    manual_price: Decimal | None
    manual_price_quote: str | None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    asset: str
    location: str
    amount: Decimal
    unconfirmed: Decimal | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HeldBalance:
    balance: BalanceRow
    connection: SourceRow


_SOURCE_COLUMNS = (
    Connection.id,
    Connection.kind,
    Connection.label,
    Connection.status,
    Connection.last_error,
    Connection.last_sync_at,
    Connection.updated_at,
    Connection.manual_price,
    Connection.manual_price_quote,
)
# Holdings and debts as one relation, so valuation stays one query; `owed` tells them apart.
_LINES = union_all(
    select(
        Balance.connection_id,
        Balance.asset,
        Balance.location,
        Balance.amount,
        Balance.unconfirmed,
        Balance.updated_at,
        false().label("owed"),
    ),
    select(
        Liability.connection_id,
        Liability.asset,
        Liability.location,
        Liability.amount,
        null().cast(Numeric(asdecimal=True)),
        Liability.updated_at,
        true().cast(Boolean),
    ),
).subquery("lines")
_BALANCE_COLUMNS = (_LINES.c.asset, _LINES.c.location, _LINES.c.amount, _LINES.c.unconfirmed, _LINES.c.updated_at)
_PRICE_COLUMNS = (Price.price, Price.source, Price.observed_at)


@dataclass(frozen=True, slots=True)
class Holdings:
    sources: list[SourceRow]
    held: list[HeldBalance]
    prices: dict[str, PriceRow]
    owed: list[HeldBalance]  # liabilities: positive amounts the connection owes


class PortfolioRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holdings(self, quote: str) -> Holdings:
        """Every connection, every balance and liability with its connection, and the stored price in `quote`
        of every asset involved: one query of plain columns (this runs on every /v1/networth and /v1/balances
        request)."""
        rows = await self.session.execute(
            select(*_SOURCE_COLUMNS, *_BALANCE_COLUMNS, *_PRICE_COLUMNS, _LINES.c.owed)
            .outerjoin(_LINES, _LINES.c.connection_id == Connection.id)
            .outerjoin(Price, (Price.asset == _LINES.c.asset) & (Price.quote == quote))
            .order_by(Connection.created_at, Connection.id, _LINES.c.asset, _LINES.c.location)
        )
        sources: dict[uuid.UUID, SourceRow] = {}
        held: list[HeldBalance] = []
        owed: list[HeldBalance] = []
        prices: dict[str, PriceRow] = {}
        first_balance, first_price = len(_SOURCE_COLUMNS), len(_SOURCE_COLUMNS) + len(_BALANCE_COLUMNS)
        last_price = first_price + len(_PRICE_COLUMNS)
        for row in rows:
            values: tuple[Any, ...] = tuple(row)  # column order: sources, balances, prices, owed
            source = sources.get(values[0])
            if source is None:
                source = sources[values[0]] = SourceRow(*values[:first_balance])
            if values[first_balance] is None:
                continue  # a connection without balances (LEFT JOIN)
            line = HeldBalance(BalanceRow(*values[first_balance:first_price]), source)
            (owed if values[last_price] else held).append(line)
            if values[first_price] is not None:
                prices[values[first_balance]] = PriceRow(values[first_balance], *values[first_price:last_price])
        return Holdings(list(sources.values()), held, prices, owed)

    async def history(
        self, quote: str, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[datetime, Decimal]]:
        """The last snapshot in each `step`-wide bucket between start and end (buckets aligned to start)."""
        bucket = func.date_bin(literal(step, Interval()), NetWorthSnapshot.taken_at, start).label("t")
        statement = (
            select(bucket, NetWorthSnapshot.total)
            .ext(distinct_on(bucket))
            .where(
                NetWorthSnapshot.quote == quote, NetWorthSnapshot.taken_at >= start, NetWorthSnapshot.taken_at <= end
            )
            .order_by(bucket, NetWorthSnapshot.taken_at.desc())
        )
        return [(t, total) for t, total in (await self.session.execute(statement))]


Resolution = Literal["raw", "hourly", "daily"]


class HistoryRepository:
    """Writes of net-worth history: the window's point, and retention's roll-ups and prunes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_points(self) -> None:
        """Serialises the writers of one customer's history point (each connection's sync, the price refresh),
        so the last writer computes its total after the others committed. Scoped by schema: advisory locks are
        per database. Held until the transaction ends."""
        key = func.hashtextextended(func.current_schema().concat(".networth"), 0)
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def upsert_point(self, quote: str, taken_at: datetime, total: Decimal) -> None:
        statement = insert(NetWorthSnapshot).values(taken_at=taken_at, quote=quote, total=total, resolution="raw")
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[NetWorthSnapshot.quote, NetWorthSnapshot.resolution, NetWorthSnapshot.taken_at],
                set_={"total": statement.excluded.total},
            )
        )

    async def roll_up(
        self, fine: Resolution, coarse: Resolution, unit: Literal["hour", "day"], before: datetime
    ) -> None:
        """Writes the last `fine` point of each UTC `unit` before `before` as that unit's `coarse` point, in one
        INSERT … SELECT DISTINCT ON. The bucket expression is one object, so DISTINCT ON and ORDER BY share
        its bound parameters (Postgres requires them to be the same expression); the 'UTC' argument buckets
        on UTC whatever the session's TimeZone."""
        snapshot = NetWorthSnapshot
        bucket = func.date_trunc(unit, snapshot.taken_at, "UTC", type_=DateTime(timezone=True))
        rows = (
            select(bucket, snapshot.quote, snapshot.total, literal(coarse))
            .ext(distinct_on(snapshot.quote, bucket))
            .where(snapshot.resolution == fine, snapshot.taken_at < before)
            .order_by(snapshot.quote, bucket, snapshot.taken_at.desc())
        )
        statement = insert(snapshot).from_select(["taken_at", "quote", "total", "resolution"], rows)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[snapshot.quote, snapshot.resolution, snapshot.taken_at],
                set_={"total": statement.excluded.total},
            )
        )

    async def drop(self, resolution: Resolution, before: datetime) -> None:
        await self.session.execute(
            delete(NetWorthSnapshot).where(
                NetWorthSnapshot.resolution == resolution, NetWorthSnapshot.taken_at < before
            )
        )

    async def counts(self) -> dict[str, int]:
        """Rows per resolution (every resolution present, zero when empty)."""
        rows = await self.session.execute(
            select(NetWorthSnapshot.resolution, func.count()).group_by(NetWorthSnapshot.resolution)
        )
        counts = {"raw": 0, "hourly": 0, "daily": 0}
        counts.update({resolution: int(count) for resolution, count in rows})
        return counts
