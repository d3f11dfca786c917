from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import Balance, Connection, ConnectionSnapshot, Liability

SYNCED_KINDS = ("exchange", "wallet")


class SyncRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def connection(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        statement = select(Connection).where(Connection.id == connection_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def synced_connections(self) -> list[Connection]:
        """Every connection that syncs from a source (exchanges, wallets), quarantined ones included."""
        statement = (
            select(Connection).where(Connection.kind.in_(SYNCED_KINDS)).order_by(Connection.created_at, Connection.id)
        )
        return list(await self.session.scalars(statement))

    async def lock(self, key: int) -> None:
        """A transaction-scoped advisory lock: held until this transaction commits or rolls back."""
        await self.session.execute(select(func.pg_advisory_xact_lock(key)))

    async def release_lease(self, connection_id: uuid.UUID, lease_until: datetime) -> None:
        # Only our own lease: if it expired and another process took the connection, its lease stays.
        await self.session.execute(
            update(Connection)
            .where(Connection.id == connection_id, Connection.sync_lease_until == lease_until)
            .values(sync_lease_until=None)
        )

    async def replace_balances(self, connection_id: uuid.UUID, rows: Iterable[dict[str, Any]]) -> None:
        await self.session.execute(delete(Balance).where(Balance.connection_id == connection_id))
        values = [{"connection_id": connection_id, **row} for row in rows]
        if values:
            await self.session.execute(insert(Balance), values)

    async def replace_liabilities(self, connection_id: uuid.UUID, rows: Iterable[dict[str, Any]]) -> None:
        """The source's answer is the complete set of debts: one no longer reported has been repaid."""
        await self.session.execute(delete(Liability).where(Liability.connection_id == connection_id))
        values = [{"connection_id": connection_id, **row} for row in rows]
        if values:
            await self.session.execute(insert(Liability), values)

    async def upsert_snapshot(
        self,
        connection_id: uuid.UUID,
        window_start: datetime,
        observed_at: datetime,
        synced_at: datetime,
        holdings: list[dict[str, Any]],
        liabilities: list[dict[str, Any]],
    ) -> None:
        statement = insert(ConnectionSnapshot).values(
            connection_id=connection_id,
            window_start=window_start,
            observed_at=observed_at,
            synced_at=synced_at,
            holdings=holdings,
            liabilities=liabilities,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[ConnectionSnapshot.connection_id, ConnectionSnapshot.window_start],
                set_={
                    "observed_at": statement.excluded.observed_at,
                    "synced_at": statement.excluded.synced_at,
                    "holdings": statement.excluded.holdings,
                    "liabilities": statement.excluded.liabilities,
                },
                # Never replace what a newer observation wrote in the same window.
                where=ConnectionSnapshot.observed_at <= statement.excluded.observed_at,
            )
        )

    async def prune_snapshots(self, before: datetime) -> int:
        result = await self.session.execute(delete(ConnectionSnapshot).where(ConnectionSnapshot.window_start < before))
        return int(getattr(result, "rowcount", 0) or 0)
