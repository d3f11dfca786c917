"""`GET /v1/sync/status`: what each source's sync is doing, from the database plus this process's engine."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.breakers.repository import BreakerRepository
from tallyhold.models import Connection
from tallyhold.portfolio.valuation import source_is_stale
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.repository import SyncRepository
from tallyhold.sync.schemas import SourceState, SourceStatus, SyncRun, SyncStatus, VenueStatus
from tallyhold.sync.service import venue_of


def source_state(connection: Connection, now: datetime, max_age: timedelta, *, syncing: bool) -> SourceState:
    if connection.status == "quarantined":
        return "quarantined"
    if connection.status == "error":
        return "error"
    if syncing or (connection.sync_lease_until is not None and connection.sync_lease_until > now):
        return "syncing"
    if connection.last_sync_at is None:
        return "never_synced"
    if source_is_stale(connection, now, max_age):
        return "stale"
    return "ok"


async def build(
    session: AsyncSession,
    engine: SyncEngine | None,
    *,
    now: datetime,
    interval_seconds: int,
    max_age: timedelta,
    scheduler: bool,
) -> SyncStatus:
    repository = SyncRepository(session)
    connections = await repository.synced_connections()
    breakers = {row.venue: row for row in await BreakerRepository(session).open_breakers(now)}
    running = engine.running if engine else frozenset()
    venues = [
        VenueStatus(venue=venue, state="open", reason=row.reason, open_until=row.open_until)
        for venue, row in sorted(breakers.items())
    ]
    sources = [
        SourceStatus(
            connection_id=c.id,
            kind=c.kind,
            label=c.label,
            venue=venue_of(c),
            state=source_state(c, now, max_age, syncing=c.id in running),
            stale=source_is_stale(c, now, max_age),
            last_attempt_at=c.last_attempt_at,
            last_success_at=c.last_sync_at,
            last_error=c.last_error,
            failure_count=c.failure_count,
            next_attempt_at=c.next_attempt_at,
            hold_until=c.hold_until if c.hold_until and c.hold_until > now else None,
            breaker_open_until=breakers[venue_of(c)].open_until if venue_of(c) in breakers else None,
        )
        for c in connections
    ]
    report = engine.last_report if engine else None
    return SyncStatus(
        interval_seconds=interval_seconds,
        scheduler="running" if scheduler else "off",
        running=engine.running_all if engine else False,
        last_run=SyncRun(started_at=report.started_at, finished_at=report.finished_at) if report else None,
        sources=sources,
        venues=venues,
    )
