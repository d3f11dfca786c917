"""Access tokens expire: `expires_at` on every token. Tokens issued before this had none and were valid for
ever; they now expire 90 days after this migration (the default lifetime of a new token), so nothing that works
today stops at the upgrade, and nothing stays valid for ever.

Revision ID: 3f9b2c7e4a10
Revises: 59edc36dfcbb
Create Date: 2026-12-06 21:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f9b2c7e4a10"
down_revision: str | None = "59edc36dfcbb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("access_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE access_tokens SET expires_at = now() + interval '90 days'")
    op.alter_column("access_tokens", "expires_at", nullable=False)


def downgrade() -> None:
    op.drop_column("access_tokens", "expires_at")
