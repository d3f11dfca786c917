"""Database engine and sessions (SQLAlchemy 2 async over psycopg 3).

Every connection pins `search_path` to the customer's schema alone, so unqualified names resolve there and
nowhere else: not `public`, not another customer's schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tallyhold.settings import Settings


def schema_connect_args(schema: str, application_name: str) -> dict[str, str]:
    # Both values are validated identifiers (settings), so they are safe inside the options string.
    return {"options": f"-c search_path={schema}", "application_name": application_name}


def create_engine(
    settings: Settings,
    *,
    process: str = "api",
    url: URL | None = None,
    pool_size: int | None = None,
    overflow: bool = True,
) -> AsyncEngine:
    """`overflow`: up to as many connections again as `pool_size` when all are busy, each closed when it is
    returned. Work that is many short transactions at once (a sync run) would open and close one per
    transaction, each a backend fork and a password exchange on the host's cores: it waits for a kept one."""
    size = pool_size or settings.database.pool_size
    return create_async_engine(
        url or settings.database.engine_url,
        pool_pre_ping=True,  # a restarted Postgres costs one failed checkout, not a restart of the instance
        pool_size=size,
        max_overflow=size if overflow else 0,
        pool_timeout=10,
        connect_args=schema_connect_args(settings.database.schema_name, f"{settings.customer_id}.{process}"),
    )


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(session_maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work for jobs and CLI commands: commit on success, roll back on any exception."""
    async with session_maker() as session, session.begin():
        yield session
