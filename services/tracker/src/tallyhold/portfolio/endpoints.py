from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tallyhold.api.dependencies import SessionDep, SessionMakerDep, SettingsDep
from tallyhold.auth.dependencies import CurrentToken
from tallyhold.errors import Unprocessable, error_responses
from tallyhold.portfolio import service as portfolio_service
from tallyhold.portfolio.cache import AnswerCache, SessionSource
from tallyhold.portfolio.dependencies import AnswerCacheDep
from tallyhold.portfolio.schemas import Balances, NetWorth, NetWorthHistory
from tallyhold.portfolio.service import GroupBy
from tallyhold.settings import Settings

router = APIRouter(prefix="/v1", tags=["portfolio"], responses=error_responses(401))

_STEP = re.compile(r"^(?P<n>[1-9][0-9]{0,8})(?P<unit>[smhdw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


MAX_STEP_SECONDS = 100 * 366 * 86_400


def parse_step(raw: str | None) -> timedelta | None:
    if raw is None:
        return None
    match = _STEP.fullmatch(raw.strip())
    if not match:
        raise Unprocessable(
            "step is a positive number of seconds, or a number with s, m, h, d or w.", code="invalid_step"
        )
    seconds = int(match["n"]) * _UNIT_SECONDS[match["unit"]]
    if seconds > MAX_STEP_SECONDS:
        raise Unprocessable("step is at most 100 years.", code="invalid_step")
    return timedelta(seconds=seconds)


async def cached_networth(
    session: SessionSource, answers: AnswerCache, settings: Settings, *, wait_for_background: bool = False
) -> NetWorth:
    """`GET /v1/networth`'s answer: the web pages show exactly this, from the same cache. Given a session maker,
    it opens a session only when the answer must be computed."""
    return await answers.get_or_compute(
        ("networth",),
        session,
        lambda s: portfolio_service.networth(
            s, settings.portfolio.quote_currency, settings.prices.max_age, settings.sync.source_max_age
        ),
        wait_for_background=wait_for_background,
    )


@router.get("/balances")
async def get_balances(
    sessions: SessionMakerDep,
    answers: AnswerCacheDep,
    settings: SettingsDep,
    token: CurrentToken,
    group_by: Annotated[GroupBy, Query(description="none (default), asset or connection")] = "none",
) -> Balances:
    """Every stored balance valued in the quote currency. Stale rows keep their last good amount."""
    return await answers.get_or_compute(
        ("balances", group_by),
        sessions,
        lambda s: portfolio_service.balances(
            s, settings.portfolio.quote_currency, group_by, settings.prices.max_age, settings.sync.source_max_age
        ),
    )


@router.get("/networth")
async def get_networth(
    sessions: SessionMakerDep, answers: AnswerCacheDep, settings: SettingsDep, token: CurrentToken
) -> NetWorth:
    """Net worth now, by asset, by connection and by kind, from stored balances and prices."""
    return await cached_networth(sessions, answers, settings)


@router.get("/networth/history", response_model=NetWorthHistory, responses=error_responses(422))
async def get_networth_history(
    session: SessionDep,
    settings: SettingsDep,
    token: CurrentToken,
    start: Annotated[datetime | None, Query(description="ISO 8601 with timezone; default end − 30 days")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601 with timezone; default now")] = None,
    step: Annotated[str | None, Query(description="300, 5m, 1h, 1d, ...; widened to keep ≤ 1000 points")] = None,
) -> Response:
    """The last net-worth point of each `step`-wide bucket from `start`; at most ~1000 points."""
    series = await portfolio_service.history(session, settings.portfolio.quote_currency, start, end, parse_step(step))
    return Response(series.json(), media_type="application/json")
