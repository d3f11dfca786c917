"""Sync engine: per-connection sync bookkeeping, per-window connection snapshots, venue breakers, wider price
sources, and a time index for net-worth history.

Revision ID: 5c1e0a7d9b21
Revises: 67684f2ecaae
Create Date: 2026-11-23 13:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c1e0a7d9b21"
down_revision: str | None = "67684f2ecaae"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("connections", sa.Column("failure_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("connections", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("connections", sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("connections", sa.Column("last_observed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("connections", sa.Column("sync_lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "connection_snapshots",
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holdings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_connection_snapshots_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "window_start", name=op.f("pk_connection_snapshots")),
    )
    op.create_index("ix_connection_snapshots_window_start", "connection_snapshots", ["window_start"], unique=False)
    op.create_table(
        "venue_breakers",
        sa.Column("venue", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("venue", name=op.f("pk_venue_breakers")),
    )
    op.alter_column("prices", "source", type_=sa.String(length=200), existing_nullable=False)
    op.create_index("ix_networth_snapshots_quote_taken_at", "networth_snapshots", ["quote", "taken_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_networth_snapshots_quote_taken_at", table_name="networth_snapshots")
    op.alter_column(
        "prices", "source", type_=sa.String(length=64), existing_nullable=False, postgresql_using="left(source, 64)"
    )
    op.drop_table("venue_breakers")
    op.drop_index("ix_connection_snapshots_window_start", table_name="connection_snapshots")
    op.drop_table("connection_snapshots")
    for column in (
        "sync_lease_until",
        "last_observed_at",
        "hold_until",
        "next_attempt_at",
        "failure_count",
        "last_attempt_at",
    ):
        op.drop_column("connections", column)
