"""All SQL of the web pages: sessions and the cookie signing key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import AccessToken, WebSession


class WebSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: WebSession) -> None:
        self.session.add(row)
        await self.session.flush()

    async def get_live(self, id_hash: bytes, now: datetime) -> tuple[WebSession, AccessToken] | None:
        """The unexpired session with this id and its token's row, in one query."""
        statement = (
            select(WebSession, AccessToken)
            .join(AccessToken, AccessToken.id == WebSession.token_id)
            .where(WebSession.id_hash == id_hash, WebSession.expires_at > now)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def delete(self, id_hash: bytes) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))

    async def delete_for_token(self, token_id: str) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.token_id == token_id))

    async def delete_expired(self, now: datetime) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.expires_at <= now))
