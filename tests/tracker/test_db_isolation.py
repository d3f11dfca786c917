"""The instance's app role reaches its own schema and nothing else (Postgres privileges, the instance's side)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant


@pytest.fixture(scope="module")
def two_tenants(postgres: LocalPostgres) -> Iterator[tuple[Tenant, Tenant]]:
    # Another database already in the cluster (PUBLIC may connect to a new database by default).
    with postgres.connect(DATABASE) as admin:
        admin.execute("CREATE DATABASE tallyhold_other")
    a, b = create_tenant(postgres), create_tenant(postgres)
    try:
        yield a, b
    finally:
        drop_tenant(a)
        drop_tenant(b)
        with postgres.connect(DATABASE) as admin:
            admin.execute("DROP DATABASE IF EXISTS tallyhold_other")


def _as_app(tenant: Tenant, database: str = DATABASE) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(tenant.postgres.url(tenant.names.app_role, tenant.app_password, database), autocommit=True)


def test_app_role_uses_its_schema(two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    with _as_app(a) as conn:
        conn.execute(
            "INSERT INTO connections (id, kind, label, status, created_at, updated_at) "
            "VALUES (gen_random_uuid(), 'manual', 'x', 'active', now(), now())"
        )
        assert conn.execute("SELECT count(*) FROM connections").fetchone() == (1,)
        conn.execute("DELETE FROM connections")


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM {other}.connections",
        "INSERT INTO {other}.prices VALUES ('BTC', 'USD', 1, 'x', now(), now())",
        "CREATE TABLE {other}.evil (id int)",
        "CREATE TABLE public.evil (id int)",
        "CREATE TABLE {own}.evil (id int)",
        "CREATE SCHEMA evil",
        "CREATE TEMP TABLE evil (id int)",
        "DROP TABLE {own}.connections",
        "ALTER TABLE {own}.connections ADD COLUMN evil int",
        "TRUNCATE {own}.connections",
    ],
)
def test_app_role_is_denied(two_tenants: tuple[Tenant, Tenant], statement: str) -> None:
    a, b = two_tenants
    with _as_app(a) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement.format(own=a.schema, other=b.schema))


def test_app_role_cannot_connect_elsewhere(two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        _as_app(a, "tallyhold_other")


def test_wrong_password_is_refused(two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    url = a.postgres.url(a.names.app_role, "not-the-password", DATABASE)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url)


def test_app_role_has_no_special_attributes(two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    with a.postgres.connect(DATABASE) as admin:
        row = admin.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolconnlimit "
            "FROM pg_roles WHERE rolname = %s",
            (a.names.app_role,),
        ).fetchone()
        owns = admin.execute("SELECT count(*) FROM pg_tables WHERE tableowner = %s", (a.names.app_role,)).fetchone()
    assert row is not None
    assert row[:5] == (False, False, False, False, False)
    assert isinstance(row[5], int)
    assert row[5] > 0
    assert owns == (0,)


def test_app_password_is_stored_as_a_scram_verifier(two_tenants: tuple[Tenant, Tenant]) -> None:
    """The provisioner sends a verifier, never the password text, so no server log can ever hold it."""
    a, _ = two_tenants
    with a.postgres.connect(DATABASE) as admin:
        row = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (a.names.app_role,)).fetchone()
    assert row is not None
    assert str(row[0]).startswith("SCRAM-SHA-256$")
    with _as_app(a) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
