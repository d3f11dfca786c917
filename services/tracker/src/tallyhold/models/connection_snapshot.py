from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class ConnectionSnapshot(Base):
    """The holdings one sync of one connection observed, one row per (connection, sync window).

    The primary key is what makes a sync idempotent: a rerun or a concurrent run in the same window updates
    this row instead of adding one, and the row is written in the same transaction as the balances it
    describes, so a killed sync leaves neither."""

    __tablename__ = "connection_snapshots"
    __table_args__ = (Index("ix_connection_snapshots_window_start", "window_start"),)

    connection_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    observed_at: Mapped[datetime]
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    # [{asset, location, amount, unconfirmed}] with amounts as decimal strings (never JSON numbers).
    holdings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    # [{asset, location, amount}]: what the connection owed in that window (positive amounts, as strings).
    liabilities: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
