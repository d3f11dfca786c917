"""Liabilities: what a connection owes (margin borrowing, negative futures or unified equity), per asset and
location, and the liabilities each connection snapshot observed.

Revision ID: 8a3f6c2d1e74
Revises: 5c0e7d1a9b42
Create Date: 2026-11-23 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8a3f6c2d1e74"
down_revision: str | None = "5c0e7d1a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "liabilities",
        sa.Column("connection_id", sa.UUID(), nullable=False),
        sa.Column("asset", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_liabilities_amount_positive")),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_liabilities_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "asset", "location", name=op.f("pk_liabilities")),
    )
    op.add_column(
        "connection_snapshots",
        sa.Column(
            "liabilities", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("connection_snapshots", "liabilities")
    op.drop_table("liabilities")
