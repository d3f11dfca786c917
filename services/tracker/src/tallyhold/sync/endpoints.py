from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.api.dependencies import SessionDep, StateDep
from tallyhold.api.state import InstanceState
from tallyhold.auth.dependencies import CurrentToken
from tallyhold.errors import ServiceUnavailable, error_responses
from tallyhold.sync import status as sync_status
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.schemas import SyncAccepted, SyncStatus

router = APIRouter(prefix="/v1/sync", tags=["sync"], responses=error_responses(401))
ENGINE = "sync_engine"
SCHEDULER = "sync_scheduler"


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=error_responses(503))
async def sync_now(state: StateDep, token: CurrentToken) -> SyncAccepted:
    """Sync every source now, in the background (the same code path as the scheduler and
    `tallyhold sync --once`). Sources in `error` are retried; quarantined keys and venues whose breaker is
    open are not called. Follow progress with `GET /v1/sync/status`."""
    return start_sync_all(state)


@router.get("/status")
async def get_sync_status(session: SessionDep, state: StateDep, token: CurrentToken) -> SyncStatus:
    """Per source: state, last attempt, last success, last error code, next retry; and open venue breakers."""
    return await current_status(session, state)


def start_sync_all(state: InstanceState) -> SyncAccepted:
    """`POST /v1/sync`'s work (the web page's "Sync now" button runs it too)."""
    engine = state.services.get(ENGINE)
    if not isinstance(engine, SyncEngine):
        raise ServiceUnavailable("The sync engine is not running.", code="sync_unavailable")
    return SyncAccepted(status="started" if engine.start_sync_all() else "already_running")


async def current_status(session: AsyncSession, state: InstanceState) -> SyncStatus:
    engine = state.services.get(ENGINE)
    scheduler = state.services.get(SCHEDULER)
    return await sync_status.build(
        session,
        engine if isinstance(engine, SyncEngine) else None,
        now=datetime.now(UTC),
        interval_seconds=state.settings.sync.interval_seconds,
        max_age=state.settings.sync.source_max_age,
        scheduler=bool(getattr(scheduler, "running", False)),
    )
