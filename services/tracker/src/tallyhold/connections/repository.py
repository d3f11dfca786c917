from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.limits import RESOURCE_LOCK_SQL
from tallyhold.models import Balance, Connection

MANUAL_LOCATION = "manual"


class ConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, connection: Connection) -> Connection:
        self.session.add(connection)
        await self.session.flush()
        return connection

    async def get(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        statement = select(Connection).where(Connection.id == connection_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def count_locked(self, kind: str) -> int:
        """Connections of `kind`, counted under the resource's advisory lock (tallyhold.limits)."""
        await self.session.execute(text(RESOURCE_LOCK_SQL), {"resource": f"{kind}_connections"})
        count = await self.session.scalar(select(func.count()).select_from(Connection).where(Connection.kind == kind))
        return int(count or 0)

    async def page(self, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Connection]:
        """Up to `limit` connections in creation order, after the (created_at, id) position `after`."""
        statement = select(Connection).order_by(Connection.created_at, Connection.id).limit(limit)
        if after is not None:
            statement = statement.where(tuple_(Connection.created_at, Connection.id) > tuple_(*after))
        return list(await self.session.scalars(statement))

    async def all(self) -> list[Connection]:
        return list(await self.session.scalars(select(Connection).order_by(Connection.created_at, Connection.id)))

    async def delete(self, connection_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(Connection).where(Connection.id == connection_id).returning(Connection.id)
        )
        return result.first() is not None

    async def manual_holdings(self, connection_ids: list[uuid.UUID]) -> dict[uuid.UUID, Balance]:
        if not connection_ids:
            return {}
        rows = await self.session.scalars(
            select(Balance).where(Balance.connection_id.in_(connection_ids), Balance.location == MANUAL_LOCATION)
        )
        return {row.connection_id: row for row in rows}

    async def set_manual_holding(self, connection_id: uuid.UUID, asset: str, amount: Decimal) -> None:
        await self.session.execute(delete(Balance).where(Balance.connection_id == connection_id))
        await self.session.execute(
            insert(Balance).values(connection_id=connection_id, asset=asset, location=MANUAL_LOCATION, amount=amount)
        )
