"""The sync's hooks into the running instance (the engine outside `tallyhold serve`: tallyhold.runtime)."""

from __future__ import annotations

from uuid import UUID

from tallyhold.api.state import InstanceState
from tallyhold.sync.endpoints import SCHEDULER
from tallyhold.sync.scheduler import SyncScheduler


def sync_soon(state: InstanceState, connection_id: UUID) -> None:
    """Ask the running scheduler (if any) to sync a connection now rather than at its next grid point or
    backoff time: after its key was replaced. Without a scheduler, the next `POST /v1/sync` does it."""
    scheduler = state.services.get(SCHEDULER)
    if isinstance(scheduler, SyncScheduler):
        scheduler.sync_soon(connection_id)
