from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Interval, func, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import Balance, Connection, NetWorthSnapshot


@dataclass(frozen=True)
class HeldBalance:
    balance: Balance
    connection: Connection


class PortfolioRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def balances(self) -> list[HeldBalance]:
        rows = await self.session.execute(
            select(Balance, Connection)
            .join(Connection, Connection.id == Balance.connection_id)
            .order_by(Connection.created_at, Connection.id, Balance.asset, Balance.location)
        )
        return [HeldBalance(balance, connection) for balance, connection in rows]

    async def connections(self) -> list[Connection]:
        return list(await self.session.scalars(select(Connection).order_by(Connection.created_at, Connection.id)))

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
