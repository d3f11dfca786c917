from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import AccessToken


class AccessTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: AccessToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def get(self, token_id: str) -> AccessToken | None:
        return await self.session.get(AccessToken, token_id)

    async def get_for_share(self, token_id: str) -> AccessToken | None:
        statement = select(AccessToken).where(AccessToken.id == token_id).with_for_update(read=True)
        return (await self.session.scalars(statement)).one_or_none()

    async def all(self) -> list[AccessToken]:
        rows = await self.session.scalars(select(AccessToken).order_by(AccessToken.created_at))
        return list(rows)

    async def revoke(self, token_id: str, at: datetime) -> bool:
        result = await self.session.execute(
            update(AccessToken)
            .where(AccessToken.id == token_id, AccessToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(AccessToken.id)
        )
        return result.first() is not None

    async def touch(self, token_id: str, at: datetime) -> None:
        # SKIP LOCKED: when many requests with one token see a stale last_used_at at once, the first updates
        # it and the others skip, instead of queueing on the row lock (each holding a pool connection) until
        # the first request's transaction ends (bench/bench_api.py: a latency spike once a minute).
        unlocked = (
            select(AccessToken.id).where(AccessToken.id == token_id).with_for_update(skip_locked=True).scalar_subquery()
        )
        await self.session.execute(update(AccessToken).where(AccessToken.id == unlocked).values(last_used_at=at))
