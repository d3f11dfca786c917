from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class Liability(Base):
    """What one connection owes in one asset at one location (margin borrowing with its interest, negative
    futures or unified-account equity), as a positive amount.

    A table of its own rather than a sign on `balances`: every reader of `balances` (prices to fetch, manual
    holdings, custom tokens) means "owned", so a debt can never be counted as a holding by a query that
    forgot a filter; net worth subtracts these explicitly."""

    __tablename__ = "liabilities"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    asset: Mapped[str] = mapped_column(String(32), primary_key=True)
    location: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[Decimal]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
