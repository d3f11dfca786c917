from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from tallyhold.api.dependencies import runtime_of
from tallyhold.health.checks import HealthParts, ReadinessCheck

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_SECONDS = 3.0


async def get_readiness(request: Request) -> dict[str, ReadinessCheck]:
    parts: HealthParts = runtime_of(request)
    return parts.readiness


ReadinessDep = Annotated[dict[str, ReadinessCheck], Depends(get_readiness)]


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """200 while the process lives."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is down; the body says which."}})
async def readyz(checks: ReadinessDep) -> JSONResponse:
    """200 when every dependency answers, else 503; the body names each one's state."""
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    report = dict(zip(checks, results, strict=True))
    ready = all(value in {"ok", "not_configured"} for value in report.values())
    return JSONResponse(report, status_code=200 if ready else 503)


async def _run(check: ReadinessCheck) -> str:
    try:
        result: str = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception:  # readiness reports any failure as "down", whatever its kind
        return "down"
    return result
