"""Migrations run inside the customer's schema, as its owner, and nothing touches `public` or another schema."""

from __future__ import annotations

import re

import psycopg
import pytest
from alembic.script import ScriptDirectory

from tallyhold.migrations import alembic_config, downgrade, run_migrations
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.instance import TENANT_TABLES, offline_settings
from tests.fixtures.platform import DATABASE, create_tenant, drop_tenant

BEFORE_TOKEN_EXPIRY = "59edc36dfcbb"
# The migrations at head create exactly the tables of the models (so the cleaning between tests, which empties the
# models' tables, reaches every table), plus Alembic's own.
EXPECTED_TABLES = {*TENANT_TABLES, "alembic_version"}


def _tables(admin: psycopg.Connection[tuple[object, ...]], schema: str) -> set[str]:
    rows = admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall()
    return {str(row[0]) for row in rows}


def _public_objects(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config(None, "unused")).get_heads()
    assert len(heads) == 1, f"migrations must form one line, found heads {heads}"


def test_migration_files_are_date_prefixed() -> None:
    script = ScriptDirectory.from_config(alembic_config(None, "unused"))
    for revision in script.walk_revisions():
        assert revision.path is not None
        name = revision.path.rsplit("/", 1)[-1]
        assert re.match(r"^\d{4}-\d{2}-\d{2}-\d{4}_", name), name


def test_empty_to_head_to_base(postgres: LocalPostgres) -> None:
    tenant = create_tenant(postgres, migrate=False)
    try:
        with postgres.connect(DATABASE) as admin:
            public_before = _public_objects(admin)
            assert _tables(admin, tenant.schema) == set()

            run_migrations(tenant.admin_url, tenant.schema, role=tenant.names.owner_role)
            assert _tables(admin, tenant.schema) == EXPECTED_TABLES
            owners = admin.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", (tenant.schema,)
            ).fetchall()
            assert owners == [(tenant.names.owner_role,)], "objects must belong to the NOLOGIN owner role"

            run_migrations(tenant.admin_url, tenant.schema, role=tenant.names.owner_role)  # idempotent
            downgrade(tenant.admin_url, tenant.schema, role=tenant.names.owner_role)
            assert _tables(admin, tenant.schema) == {"alembic_version"}
            version = admin.execute(f'SELECT count(*) FROM "{tenant.schema}".alembic_version').fetchone()
            assert version == (0,)
            assert _public_objects(admin) == public_before, "nothing may be created in public"
    finally:
        drop_tenant(tenant)


def test_tokens_issued_before_expiry_existed_expire_90_days_after_the_upgrade(postgres: LocalPostgres) -> None:
    tenant = create_tenant(postgres, migrate=False)
    try:
        run_migrations(tenant.admin_url, tenant.schema, role=tenant.names.owner_role, revision=BEFORE_TOKEN_EXPIRY)
        with postgres.connect(DATABASE) as admin:
            admin.execute(
                f'INSERT INTO "{tenant.schema}".access_tokens (id, label, secret_hash, created_at) '
                "VALUES ('0123456789ab', 'old', %s, now() - interval '400 days')",
                (b"x" * 32,),
            )
            admin.commit()
            run_migrations(tenant.admin_url, tenant.schema, role=tenant.names.owner_role)
            row = admin.execute(
                f"SELECT expires_at - now() > interval '89 days' FROM \"{tenant.schema}\".access_tokens"
            ).fetchone()
            assert row == (True,)
    finally:
        drop_tenant(tenant)


def test_two_schemas_migrate_independently(postgres: LocalPostgres) -> None:
    first, second = create_tenant(postgres), create_tenant(postgres, migrate=False)
    try:
        with postgres.connect(DATABASE) as admin:
            assert "connections" in _tables(admin, first.schema)
            assert _tables(admin, second.schema) == set()
    finally:
        drop_tenant(first)
        drop_tenant(second)


@pytest.mark.parametrize("schema", ["public", "Robert'); DROP TABLE x;--"])
def test_settings_refuse_public_or_odd_schema(schema: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        offline_settings(DB_SCHEMA=schema)
