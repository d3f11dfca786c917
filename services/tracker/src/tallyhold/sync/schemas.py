from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SourceState = Literal["ok", "syncing", "stale", "never_synced", "error", "quarantined"]


class SourceStatus(BaseModel):
    connection_id: uuid.UUID
    kind: str
    label: str
    venue: str = Field(description="The exchange (ccxt id) or chain the source syncs from.")
    state: SourceState = Field(
        description="ok; syncing; stale (last sync failed or is too old: the last good balances are shown); "
        "never_synced; error (a permanent failure: fix the key or address, then sync); quarantined (the key "
        "can trade, withdraw or transfer: it is never used again until replaced)."
    )
    stale: bool
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None = Field(description="Stable error code of the last failed attempt, if any.")
    failure_count: int = Field(description="Consecutive failed attempts.")
    next_attempt_at: datetime | None = Field(description="When the scheduler retries after a failure (backoff).")
    hold_until: datetime | None = Field(description="The venue asked us to wait until then (Retry-After).")
    breaker_open_until: datetime | None = Field(description="The venue's circuit breaker is open until then.")


class VenueStatus(BaseModel):
    venue: str
    state: Literal["open", "half_open"]
    reason: str = Field(description="banned (418), rate_limited (429) or failures (repeated errors).")
    open_until: datetime


class SyncRun(BaseModel):
    started_at: datetime
    finished_at: datetime | None


class SyncStatus(BaseModel):
    interval_seconds: int
    scheduler: Literal["running", "off"]
    running: bool = Field(description="A sync of every source (POST /v1/sync) is running in this instance.")
    last_run: SyncRun | None = Field(description="The last sync of every source that this process ran.")
    sources: list[SourceStatus]
    venues: list[VenueStatus] = Field(description="Venues whose breaker is open: no call goes to them.")


class SyncAccepted(BaseModel):
    status: Literal["started", "already_running"]
