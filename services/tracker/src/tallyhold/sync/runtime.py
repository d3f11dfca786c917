"""A sync engine outside `tallyhold serve` (`tallyhold sync --once`, benches): the same wiring as the app's
lifespan (database, egress worker, Vault session and the exchange key source), without HTTP or scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from tallyhold.api.state import InstanceState
from tallyhold.credentials import runtime as credentials_runtime
from tallyhold.db import create_engine
from tallyhold.egress.client import EgressClient
from tallyhold.runtime import egress_config
from tallyhold.settings import Settings
from tallyhold.sync.endpoints import SCHEDULER
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.scheduler import SyncScheduler


@asynccontextmanager
async def standalone_engine(settings: Settings, process: str = "sync") -> AsyncIterator[SyncEngine]:
    engine = create_engine(settings, process=process)
    egress = EgressClient(egress_config(settings), mode=settings.egress.mode, idle_seconds=settings.egress.idle_seconds)
    state = InstanceState.for_engine(settings, engine, egress)
    stop_credentials = await credentials_runtime.install(state)
    sync = SyncEngine(settings, state.session_maker, egress, state.services)
    try:
        yield sync
    finally:
        await sync.aclose()
        await stop_credentials()
        await egress.aclose()
        await engine.dispose()


def sync_soon(state: InstanceState, connection_id: UUID) -> None:
    """Ask the running scheduler (if any) to sync a connection now rather than at its next grid point or
    backoff time: after its key was replaced. Without a scheduler, the next `POST /v1/sync` does it."""
    scheduler = state.services.get(SCHEDULER)
    if isinstance(scheduler, SyncScheduler):
        scheduler.sync_soon(connection_id)
