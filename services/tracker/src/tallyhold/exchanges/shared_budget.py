"""The API process's side of the shared exchange budget (egress/budget.py): asks Postgres, counts the waits.

One short transaction per question, on the background pool (never the API's). Any database failure is
`BudgetUnavailable`: the call that asked does not go out, and the sync fails transient with that code.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.db import transaction
from tallyhold.egress.budget import HOLDS, BudgetUnavailable, Grant
from tallyhold.exchanges.budget_repository import BudgetRepository
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.metrics import EGRESS_BUDGET_HOLD_BACKS, EGRESS_BUDGET_WAIT

logger = logging.getLogger("tallyhold.egress.budget")
# The longest hold-back asked of the pool for one answer; the database caps it again (the provisioner's
# MAX_BAN_SECONDS), so an instance cannot hold its pool back longer whatever it sends.
MAX_HOLD_BACK_SECONDS = 900.0


def shared_venue(venue: str) -> str:
    """Only venues with a declared per-IP limit have a budget (and a bounded metric label)."""
    adapter = ADAPTERS.get(venue)
    if adapter is None or adapter.ip_limit is None:
        raise BudgetUnavailable("egress_budget_unknown_venue")
    return venue


class SharedBudget:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def acquire(self, venue: str, weight: int, *, interactive: bool = False) -> Grant:
        venue = shared_venue(venue)
        try:
            async with transaction(self._sessions) as session:
                wait, hold = await BudgetRepository(session).acquire(venue, int(weight), interactive=interactive)
        except SQLAlchemyError as error:
            logger.error("egress budget unavailable", extra={"venue": venue, "error": type(error).__name__})
            raise BudgetUnavailable(BudgetUnavailable.code) from None
        if wait > 0:
            EGRESS_BUDGET_WAIT.labels(venue, hold or "window").inc(wait)
        return Grant(wait=wait, hold=hold if hold in HOLDS else None)

    async def hold_back(self, venue: str, seconds: float, *, banned: bool) -> None:
        venue = shared_venue(venue)
        seconds = min(max(float(seconds), 1.0), MAX_HOLD_BACK_SECONDS)
        try:
            async with transaction(self._sessions) as session:
                applied = await BudgetRepository(session).report_ban(venue, seconds, banned=banned)
        except SQLAlchemyError as error:
            logger.error("egress budget unavailable", extra={"venue": venue, "error": type(error).__name__})
            raise BudgetUnavailable(BudgetUnavailable.code) from None
        if applied > 0:
            EGRESS_BUDGET_HOLD_BACKS.labels(venue).inc()
            logger.warning("egress pool held back", extra={"venue": venue, "seconds": applied})
