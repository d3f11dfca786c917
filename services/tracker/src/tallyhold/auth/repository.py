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

    async def revoke_labelled(self, label: str, keep: str, at: datetime) -> list[str]:
        result = await self.session.execute(
            update(AccessToken)
            .where(AccessToken.label == label, AccessToken.id != keep, AccessToken.revoked_at.is_(None))
            .values(revoked_at=at)
            .returning(AccessToken.id)
        )
        return list(result.scalars())

    async def touch(self, token_id: str, at: datetime) -> None:
        # SKIP LOCKED: the last-used time is advisory; a row another transaction holds (a revocation, a write
        # route's FOR SHARE check, a concurrent touch) is skipped rather than waited for.
        unlocked = (
            select(AccessToken.id).where(AccessToken.id == token_id).with_for_update(skip_locked=True).scalar_subquery()
        )
        await self.session.execute(update(AccessToken).where(AccessToken.id == unlocked).values(last_used_at=at))
