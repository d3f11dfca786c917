"""Helpers of the sync tests: exchange accounts at the sandbox venues, reading what a sync stored."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import Balance, Connection, ConnectionSnapshot
from tallyhold_sandbox import VenueControl


@dataclass(frozen=True)
class ExchangeAccount:
    connection_id: str
    api_key: str
    venue: VenueControl

    def set_spot(self, balances: dict[str, str]) -> None:
        self.venue.set_balances(self.api_key, {"spot": balances})


AddAccount = Callable[..., Awaitable[ExchangeAccount]]


async def spot_amounts(maker: async_sessionmaker[AsyncSession], connection_id: str) -> dict[str, str]:
    async with maker() as session:
        rows = await session.scalars(select(Balance).where(Balance.connection_id == uuid.UUID(connection_id)))
        return {b.asset: format(b.amount.normalize(), "f") for b in rows}


async def snapshot_count(maker: async_sessionmaker[AsyncSession], connection_id: str | None = None) -> int:
    statement = select(func.count()).select_from(ConnectionSnapshot)
    if connection_id is not None:
        statement = statement.where(ConnectionSnapshot.connection_id == uuid.UUID(connection_id))
    async with maker() as session:
        return int(await session.scalar(statement) or 0)


async def connection_row(maker: async_sessionmaker[AsyncSession], connection_id: str) -> Connection:
    async with maker() as session:
        found = await session.get(Connection, uuid.UUID(connection_id))
        assert found is not None
        return found


def key_requests(venue: VenueControl, api_key: str, since: int = 0) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in venue.requests(since) if e["key_hint"] == api_key[-4:]]
