from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class WebSession(Base):
    """A signed-in browser (the customer's web pages). Only the SHA-256 of the cookie's random id is stored, so a
    copy of this table cannot be replayed as a cookie. Each session belongs to the access token it was opened
    with: revoking the token deletes its sessions (ON DELETE CASCADE covers a deleted token row)."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(12), ForeignKey("access_tokens.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
