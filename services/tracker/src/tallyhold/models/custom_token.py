from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class CustomToken(Base):
    """An ERC-20 the customer added by contract address, read on every wallet of its chain. Symbol and decimals
    were read from the contract itself when it was added (chains/service.py validates them)."""

    __tablename__ = "custom_tokens"
    __table_args__ = (
        UniqueConstraint("chain", "contract"),
        UniqueConstraint("chain", "asset"),
        CheckConstraint("chain IN ('ethereum', 'arbitrum', 'optimism', 'base', 'polygon', 'bsc')", name="evm_chain"),
        CheckConstraint("contract ~ '^0x[0-9a-fA-F]{40}$'", name="contract_address"),
        CheckConstraint("decimals BETWEEN 0 AND 36", name="decimals_range"),
        CheckConstraint("asset ~ '^[A-Z0-9][A-Z0-9._-]{0,23}$'", name="asset_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    chain: Mapped[str] = mapped_column(String(16))
    contract: Mapped[str] = mapped_column(String(42))
    symbol: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(Text)
    asset: Mapped[str] = mapped_column(String(24))
    decimals: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
