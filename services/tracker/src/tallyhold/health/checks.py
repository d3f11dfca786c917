"""Readiness checks: each dependency of the instance (database, Vault) answers "ok" or a short non-secret
reason; `/readyz` runs them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ReadinessCheck = Callable[[], Awaitable[str]]


class HealthParts(Protocol):
    @property
    def readiness(self) -> dict[str, ReadinessCheck]: ...


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    async def check() -> str:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return "ok"

    return check


async def not_configured() -> str:
    return "not_configured"
