"""The API process's side of the shared exchange budget (egress/budget.py): asks Postgres, counts the waits.

One statement per question, in autocommit, on the background pool (never the API's), and never behind the requests
in flight (foreground.py): a key's verification, a request's own work, asks too. A Binance sync asks before
each of its ten requests: as ORM transactions (BEGIN, the function, COMMIT) the questions cost the instance about
as much CPU as the rest of the sync. Any database failure is `BudgetUnavailable`: the call that asked does not go
out, and the sync fails transient with that code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from tallyhold.egress.budget import HOLDS, BudgetUnavailable, Grant
from tallyhold.exchanges.budget_repository import BudgetRepository
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.foreground import REQUESTS_FIRST
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
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _repository(self, venue: str) -> AsyncIterator[BudgetRepository]:
        try:
            async with self._engine.connect() as connection:
                options = {"isolation_level": "AUTOCOMMIT", REQUESTS_FIRST: False}
                yield BudgetRepository(await connection.execution_options(**options))
        except SQLAlchemyError as error:
            logger.error("egress budget unavailable", extra={"venue": venue, "error": type(error).__name__})
            raise BudgetUnavailable(BudgetUnavailable.code) from None

    async def acquire(self, venue: str, weight: int, *, interactive: bool = False) -> Grant:
        venue = shared_venue(venue)
        async with self._repository(venue) as repository:
            wait, hold = await repository.acquire(venue, int(weight), interactive=interactive)
        if wait > 0:
            EGRESS_BUDGET_WAIT.labels(venue, hold or "window").inc(wait)
        return Grant(wait=wait, hold=hold if hold in HOLDS else None)

    async def hold_back(self, venue: str, seconds: float, *, banned: bool) -> None:
        venue = shared_venue(venue)
        seconds = min(max(float(seconds), 1.0), MAX_HOLD_BACK_SECONDS)
        async with self._repository(venue) as repository:
            applied = await repository.report_ban(venue, seconds, banned=banned)
        if applied > 0:
            EGRESS_BUDGET_HOLD_BACKS.labels(venue).inc()
            logger.warning("egress pool held back", extra={"venue": venue, "seconds": applied})
