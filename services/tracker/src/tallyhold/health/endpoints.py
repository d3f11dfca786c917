from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tallyhold.api.dependencies import StateDep
from tallyhold.api.state import InstanceState, ReadinessCheck

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process lives."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is down; the body says which."}})
async def readyz(state: StateDep) -> JSONResponse:
    """200 when every dependency answers, else 503; the body names each one's state."""
    results = await asyncio.gather(*(_run(check) for check in state.readiness.values()))
    report = dict(zip(state.readiness, results, strict=True))
    ready = all(value in {"ok", "not_configured"} for value in report.values())
    return JSONResponse(report, status_code=200 if ready else 503)


async def _run(check: ReadinessCheck) -> str:
    try:
        result: str = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception:  # readiness reports any failure as "down", whatever its kind
        return "down"
    return result


def database_check(state: InstanceState) -> ReadinessCheck:
    async def check() -> str:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return "ok"

    return check
