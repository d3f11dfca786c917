"""Custom tokens: ERC-20s a customer adds by contract address, read on every wallet of their chain.

Revision ID: 5c0e7d1a9b42
Revises: 5c1e0a7d9b21
Create Date: 2026-11-23 15:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0e7d1a9b42"
down_revision: str | None = "5c1e0a7d9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custom_tokens",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("chain", sa.String(length=16), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("asset", sa.String(length=24), nullable=False),
        sa.Column("decimals", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "chain IN ('ethereum', 'arbitrum', 'optimism', 'base', 'polygon', 'bsc')",
            name=op.f("ck_custom_tokens_evm_chain"),
        ),
        sa.CheckConstraint("contract ~ '^0x[0-9a-fA-F]{40}$'", name=op.f("ck_custom_tokens_contract_address")),
        sa.CheckConstraint("decimals BETWEEN 0 AND 36", name=op.f("ck_custom_tokens_decimals_range")),
        sa.CheckConstraint("asset ~ '^[A-Z0-9][A-Z0-9._-]{0,23}$'", name=op.f("ck_custom_tokens_asset_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tokens")),
        sa.UniqueConstraint("chain", "asset", name=op.f("uq_custom_tokens_chain_asset")),
        sa.UniqueConstraint("chain", "contract", name=op.f("uq_custom_tokens_chain_contract")),
    )


def downgrade() -> None:
    op.drop_table("custom_tokens")
