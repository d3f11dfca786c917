"""SQL of the shared exchange budget: the two functions of the `egress_budget` schema, nothing else (the instance
role may not read its tables; the provisioner creates them)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_ACQUIRE = text("SELECT wait_seconds, hold FROM egress_budget.acquire(:venue, :weight, :interactive)")
_REPORT_BAN = text("SELECT egress_budget.report_ban(:venue, :seconds, :banned)")


class BudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def acquire(self, venue: str, weight: int, *, interactive: bool) -> tuple[float, str | None]:
        params = {"venue": venue, "weight": weight, "interactive": interactive}
        row = (await self.session.execute(_ACQUIRE, params)).one()
        return float(row.wait_seconds), row.hold

    async def report_ban(self, venue: str, seconds: float, *, banned: bool) -> float:
        result = await self.session.execute(_REPORT_BAN, {"venue": venue, "seconds": seconds, "banned": banned})
        return float(result.scalar_one())
