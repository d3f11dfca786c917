"""The audit trail is append-only for the instance: its app role keeps SELECT and INSERT on `audit_events` and
loses UPDATE, DELETE and TRUNCATE, so an instance (or whoever takes it over) cannot rewrite or erase what it did.

The roles are read from the table's own grants (the app role's name is the provisioner's business, not the
schema's); the schema owner, which runs migrations, keeps its rights. `tallyhold-provision create` re-applies
the same revoke after granting DML on every table (tallyhold_provision.tenant_database.APPEND_ONLY_TABLES).

Revision ID: 3c1e5a7d9b20
Revises: 3f9b2c7e4a10
Create Date: 2026-12-06 21:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1e5a7d9b20"
down_revision: str | None = "3f9b2c7e4a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GRANTEES = sa.text(
    "SELECT DISTINCT quote_ident(r.rolname) FROM pg_class c, aclexplode(c.relacl) a "
    "JOIN pg_roles r ON r.oid = a.grantee "
    "WHERE c.oid = 'audit_events'::regclass AND a.grantee <> c.relowner AND a.privilege_type = ANY(:privileges)"
)


def _grantees(*privileges: str) -> list[str]:
    return list(op.get_bind().execute(_GRANTEES, {"privileges": list(privileges)}).scalars())


def upgrade() -> None:
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC")
    for role in _grantees("UPDATE", "DELETE", "TRUNCATE"):
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM {role}")


def downgrade() -> None:
    for role in _grantees("INSERT"):
        op.execute(f"GRANT UPDATE, DELETE ON audit_events TO {role}")
