from __future__ import annotations

from fastapi import APIRouter, status

from tallyhold.api.dependencies import SessionDep
from tallyhold.auth.dependencies import CurrentToken
from tallyhold.errors import error_responses
from tallyhold.sync.dependencies import SyncControlDep
from tallyhold.sync.schemas import SyncAccepted, SyncStatus

router = APIRouter(prefix="/v1/sync", tags=["sync"], responses=error_responses(401))


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def sync_now(sync: SyncControlDep, token: CurrentToken) -> SyncAccepted:
    """Sync every source now, in the background (the same code path as the scheduler and
    `tallyhold sync --once`). Sources in `error` are retried; quarantined keys and venues whose breaker is
    open are not called. Follow progress with `GET /v1/sync/status`."""
    return sync.start_all()


@router.get("/status")
async def get_sync_status(session: SessionDep, sync: SyncControlDep, token: CurrentToken) -> SyncStatus:
    """Per source: state, last attempt, last success, last error code, next retry; and open venue breakers."""
    return await sync.status(session)
