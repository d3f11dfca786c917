"""The breakers' rows (`venue_breakers`): open-until times every process and restart respects."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import VenueBreaker


class BreakerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_breakers(self, now: datetime) -> list[VenueBreaker]:
        return list(await self.session.scalars(select(VenueBreaker).where(VenueBreaker.open_until > now)))

    async def open_breaker(self, venue: str, reason: str, opened_at: datetime, open_until: datetime) -> None:
        statement = insert(VenueBreaker).values(venue=venue, reason=reason, opened_at=opened_at, open_until=open_until)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[VenueBreaker.venue],
                set_={
                    "reason": statement.excluded.reason,
                    "opened_at": statement.excluded.opened_at,
                    "open_until": statement.excluded.open_until,
                },
                # A shorter hold never shortens a longer one (a 429 arriving during a 418 ban).
                where=VenueBreaker.open_until < statement.excluded.open_until,
            )
        )

    async def close_breaker(self, venue: str) -> None:
        await self.session.execute(delete(VenueBreaker).where(VenueBreaker.venue == venue))
