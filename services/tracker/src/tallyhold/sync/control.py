"""What requests may do with this process's syncing: start a sync of everything, read the status, and ask for
one connection soon (after its key was replaced). `POST /v1/sync`, `GET /v1/sync/status` and the web pages'
"Sync now" and progress display go through it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.settings import Settings
from tallyhold.sync import status as sync_status
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.scheduler import SyncScheduler
from tallyhold.sync.schemas import SyncAccepted, SyncStatus


class SyncControl:
    def __init__(self, settings: Settings, engine: SyncEngine, scheduler: SyncScheduler | None) -> None:
        self.settings = settings
        self.engine = engine
        # None when the settings turn the scheduler off: sources then sync only when asked.
        self.scheduler = scheduler

    def start_all(self) -> SyncAccepted:
        return SyncAccepted(status="started" if self.engine.start_sync_all() else "already_running")

    async def status(self, session: AsyncSession) -> SyncStatus:
        return await sync_status.build(
            session,
            self.engine,
            now=datetime.now(UTC),
            interval_seconds=self.settings.sync.interval_seconds,
            max_age=self.settings.sync.source_max_age,
            scheduler=self.scheduler is not None and self.scheduler.running,
        )

    def sync_soon(self, connection_id: uuid.UUID) -> None:
        """Sync a connection now rather than at its next grid point or backoff time: after its key was
        replaced. Without a scheduler, the next `POST /v1/sync` does it."""
        if self.scheduler is not None:
            self.scheduler.sync_soon(connection_id)
