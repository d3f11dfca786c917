"""Connections carry a credentials version, bumped on every key replacement, so a sync that started with the
old key can tell that its result no longer applies (it is then recorded as `superseded` and nothing is stored).

Revision ID: 59edc36dfcbb
Revises: 8a3f6c2d1e74
Create Date: 2026-11-23 17:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "59edc36dfcbb"
down_revision: str | None = "8a3f6c2d1e74"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("connections", sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("connections", "credentials_version")
