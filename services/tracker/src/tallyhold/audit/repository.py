from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import AuditEvent


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, action: str, *, actor: str, connection_id: uuid.UUID | None = None, **details: Any) -> None:
        self.session.add(
            AuditEvent(
                action=action, actor=actor, connection_id=connection_id, details=details, occurred_at=datetime.now(UTC)
            )
        )
        await self.session.flush()

    async def for_connection(self, connection_id: uuid.UUID) -> list[AuditEvent]:
        rows = await self.session.scalars(
            select(AuditEvent).where(AuditEvent.connection_id == connection_id).order_by(AuditEvent.id)
        )
        return list(rows)
