from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tallyhold.auth.last_used import LastUsedRecorder
from tallyhold.auth.throttle import FailureThrottle
from tallyhold.db import create_session_maker
from tallyhold.egress.client import EgressClient
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
    egress: EgressClient
    # Failed authentications per client address, shared by every route that checks a credential.
    auth_throttle: FailureThrottle
    last_used: LastUsedRecorder
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    # Domain services built at start-up and shared by requests and jobs, by name (e.g. "cipher").
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_engine(cls, settings: Settings, engine: AsyncEngine, egress: EgressClient) -> InstanceState:
        session_maker = create_session_maker(engine)
        return cls(
            settings=settings,
            engine=engine,
            session_maker=session_maker,
            egress=egress,
            auth_throttle=FailureThrottle(
                limit=settings.auth.throttle_failures,
                window_seconds=settings.auth.throttle_window_seconds,
                max_clients=settings.auth.throttle_max_clients,
            ),
            last_used=LastUsedRecorder(session_maker),
        )
