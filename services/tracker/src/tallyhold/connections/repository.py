from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
