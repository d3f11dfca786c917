from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class AccessToken(Base):
    """A bearer token for the instance's API. Only the SHA-256 of its secret part is stored. It is refused
    (401) once revoked or past `expires_at`."""

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
