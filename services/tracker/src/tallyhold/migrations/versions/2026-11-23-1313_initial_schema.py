"""Initial schema: connections, balances, prices, net-worth snapshots, access tokens, audit events.

Revision ID: 67684f2ecaae
Revises:
Create Date: 2026-11-23 13:13:07.642115+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "67684f2ecaae"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(length=12), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"], unique=False)
    op.create_table(
        "connections",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("exchange", sa.String(length=32), nullable=True),
        sa.Column("key_hint", sa.String(length=8), nullable=True),
        sa.Column("api_key_ct", sa.Text(), nullable=True),
        sa.Column("api_secret_ct", sa.Text(), nullable=True),
        sa.Column("passphrase_ct", sa.Text(), nullable=True),
        sa.Column("uid_ct", sa.Text(), nullable=True),
        sa.Column("permissions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("permissions_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip_restricted", sa.Boolean(), nullable=True),
        sa.Column("key_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("key_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("chain", sa.String(length=16), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("manual_price", sa.Numeric(), nullable=True),
        sa.Column("manual_price_quote", sa.String(length=8), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "api_key_ct ~ '^vault:v[0-9]+:[A-Za-z0-9+/=]+$'", name=op.f("ck_connections_api_key_ct_is_ciphertext")
        ),
        sa.CheckConstraint(
            "api_secret_ct ~ '^vault:v[0-9]+:[A-Za-z0-9+/=]+$'", name=op.f("ck_connections_api_secret_ct_is_ciphertext")
        ),
        sa.CheckConstraint(
            "kind <> 'exchange' OR exchange IS NOT NULL", name=op.f("ck_connections_exchange_has_venue")
        ),
        sa.CheckConstraint(
            "kind <> 'wallet' OR (chain IS NOT NULL AND address IS NOT NULL)",
            name=op.f("ck_connections_wallet_has_address"),
        ),
        sa.CheckConstraint("kind IN ('exchange', 'wallet', 'manual')", name=op.f("ck_connections_kind")),
        sa.CheckConstraint(
            "passphrase_ct ~ '^vault:v[0-9]+:[A-Za-z0-9+/=]+$'", name=op.f("ck_connections_passphrase_ct_is_ciphertext")
        ),
        sa.CheckConstraint("status IN ('active', 'error', 'quarantined')", name=op.f("ck_connections_status")),
        sa.CheckConstraint(
            "uid_ct ~ '^vault:v[0-9]+:[A-Za-z0-9+/=]+$'", name=op.f("ck_connections_uid_ct_is_ciphertext")
        ),
        sa.CheckConstraint("char_length(label) BETWEEN 1 AND 100", name=op.f("ck_connections_label_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
    )
    op.create_index(
        "uq_connections_wallet_chain_address",
        "connections",
        ["chain", "address"],
        unique=True,
        postgresql_where=sa.text("kind = 'wallet'"),
    )
    op.create_table(
        "networth_snapshots",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quote", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Numeric(), nullable=False),
        sa.Column("resolution", sa.String(length=8), server_default="raw", nullable=False),
        sa.CheckConstraint("resolution IN ('raw', 'hourly', 'daily')", name=op.f("ck_networth_snapshots_resolution")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networth_snapshots")),
        sa.UniqueConstraint(
            "quote", "resolution", "taken_at", name=op.f("uq_networth_snapshots_quote_resolution_taken_at")
        ),
    )
    op.create_table(
        "prices",
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("quote", sa.String(length=8), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name=op.f("ck_prices_price_not_negative")),
        sa.PrimaryKeyConstraint("asset", "quote", name=op.f("pk_prices")),
    )
    op.create_table(
        "balances",
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("unconfirmed", sa.Numeric(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_balances_amount_not_negative")),
        sa.CheckConstraint(
            "unconfirmed IS NULL OR unconfirmed >= 0", name=op.f("ck_balances_unconfirmed_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_balances_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "asset", "location", name=op.f("pk_balances")),
    )


def downgrade() -> None:
    op.drop_table("balances")
    op.drop_table("prices")
    op.drop_table("networth_snapshots")
    op.drop_index(
        "uq_connections_wallet_chain_address", table_name="connections", postgresql_where=sa.text("kind = 'wallet'")
    )
    op.drop_table("connections")
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("access_tokens")
