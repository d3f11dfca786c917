from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow

# Secret columns may only ever hold Vault transit ciphertext; the database itself refuses anything else.
CIPHERTEXT_CHECK = r"^vault:v[0-9]+:[A-Za-z0-9+/=]+$"
SECRET_COLUMNS = ("api_key_ct", "api_secret_ct", "passphrase_ct", "uid_ct")


class Connection(Base):
    """A source of holdings: an exchange account (read-only key), a wallet (public address) or a manual entry."""

    __tablename__ = "connections"
    __table_args__ = (
        CheckConstraint("kind IN ('exchange', 'wallet', 'manual')", name="kind"),
        CheckConstraint("status IN ('active', 'error', 'quarantined')", name="status"),
        CheckConstraint("char_length(label) BETWEEN 1 AND 100", name="label_length"),
        *(CheckConstraint(f"{col} ~ '{CIPHERTEXT_CHECK}'", name=f"{col}_is_ciphertext") for col in SECRET_COLUMNS),
        CheckConstraint("kind <> 'exchange' OR exchange IS NOT NULL", name="exchange_has_venue"),
        CheckConstraint("kind <> 'wallet' OR (chain IS NOT NULL AND address IS NOT NULL)", name="wallet_has_address"),
        Index(
            "uq_connections_wallet_chain_address",
            "chain",
            "address",
            unique=True,
            postgresql_where=text("kind = 'wallet'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")

    # exchange
    exchange: Mapped[str | None] = mapped_column(String(32))
    key_hint: Mapped[str | None] = mapped_column(String(8))
    api_key_ct: Mapped[str | None] = mapped_column(Text)
    api_secret_ct: Mapped[str | None] = mapped_column(Text)
    passphrase_ct: Mapped[str | None] = mapped_column(Text)
    uid_ct: Mapped[str | None] = mapped_column(Text)
    permissions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    permissions_checked_at: Mapped[datetime | None]
    ip_restricted: Mapped[bool | None]
    key_expires_at: Mapped[datetime | None]
    key_created_at: Mapped[datetime | None]
    # Bumped on every key replacement: a sync claims the version it started with, and its result is applied
    # only while the version is unchanged (sync/service.py), so an answer about an old key never lands.
    credentials_version: Mapped[int] = mapped_column(default=0, server_default="0")

    # wallet
    chain: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(Text)

    # manual: the holding itself lives in `balances`; the customer's own price (in `manual_price_quote`) here
    manual_price: Mapped[Decimal | None]
    manual_price_quote: Mapped[str | None] = mapped_column(String(8))

    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(64))
    # sync bookkeeping (sync/): the last attempt whatever its outcome, consecutive failures, when the scheduler
    # tries next (backoff), a hold nobody may break (Retry-After), the source time of the balances we hold,
    # and the lease of the process syncing it now.
    last_attempt_at: Mapped[datetime | None]
    failure_count: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    hold_until: Mapped[datetime | None]
    last_observed_at: Mapped[datetime | None]
    sync_lease_until: Mapped[datetime | None]  # a process is syncing this connection until then
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
