from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tallyhold.settings import Settings

# A readiness probe answers "ok" or a short non-secret reason; the domains that own a dependency (database,
# Vault, ...) register theirs at start-up.
ReadinessCheck = Callable[[], Awaitable[str]]


@dataclass
class InstanceState:
    """What the running instance shares between requests, built in the lifespan and torn down after it."""

    settings: Settings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
