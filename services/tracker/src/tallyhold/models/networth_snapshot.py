from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base


class NetWorthSnapshot(Base):
    """Net worth at one moment. `resolution` says whether the row is a raw sample or a downsampled bucket."""

    __tablename__ = "networth_snapshots"
    __table_args__ = (
        CheckConstraint("resolution IN ('raw', 'hourly', 'daily')", name="resolution"),
        UniqueConstraint("quote", "resolution", "taken_at"),
        # History reads a time range across every resolution.
        Index("ix_networth_snapshots_quote_taken_at", "quote", "taken_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    taken_at: Mapped[datetime]
    quote: Mapped[str] = mapped_column(String(8))
    total: Mapped[Decimal]
    resolution: Mapped[str] = mapped_column(String(8), default="raw", server_default="raw")
