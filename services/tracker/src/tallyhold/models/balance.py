from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class Balance(Base):
    """The current amount of one asset at one location of one connection (spot, earn, staked, onchain, ...)."""

    __tablename__ = "balances"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("unconfirmed IS NULL OR unconfirmed >= 0", name="unconfirmed_not_negative"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    asset: Mapped[str] = mapped_column(String(32), primary_key=True)
    location: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[Decimal]
    # Amount seen but not yet confirmed (Bitcoin mempool); not part of `amount`.
    unconfirmed: Mapped[Decimal | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
