"""SQL of the shared exchange budget: the two functions of the `egress_budget` schema, nothing else (the instance
role may not read its tables; the provisioner creates them)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_ACQUIRE = text("SELECT wait_seconds, banned FROM egress_budget.acquire(:venue, :weight)")
_REPORT_BAN = text("SELECT egress_budget.report_ban(:venue, :seconds)")


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def acquire(self, venue: str, weight: int) -> tuple[float, bool]:
        row = (await self.session.execute(_ACQUIRE, {"venue": venue, "weight": weight})).one()
        return float(row.wait_seconds), bool(row.banned)

    async def report_ban(self, venue: str, seconds: float) -> float:
        return float((await self.session.execute(_REPORT_BAN, {"venue": venue, "seconds": seconds})).scalar_one())
