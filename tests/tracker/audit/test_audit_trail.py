"""The audit trail is append-only for the instance: its app role, on real Postgres, can add events and read
them, never change or remove one; every flow that records events (deleting a connection included) still works,
and a deleted connection's events stay."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from psycopg import errors

from tallyhold_provision.tenant_database import TenantDatabase
from tests.fixtures.platform import DATABASE, Tenant

VALID = {"label": "Cash", "asset": "USD", "amount": "10"}


def _as_app(tenant: Tenant) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(tenant.app_url, autocommit=True)


def _events(tenant: Tenant, connection_id: str) -> list[str]:
    with _as_app(tenant) as conn:
        rows = conn.execute(
            "SELECT action FROM audit_events WHERE connection_id = %s ORDER BY id", (connection_id,)
        ).fetchall()
    return [str(action) for (action,) in rows]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'someone else'",
        "UPDATE audit_events SET details = '{}' WHERE false",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE false",
        "TRUNCATE audit_events",
    ],
)
async def test_app_role_cannot_change_the_trail(client: httpx.AsyncClient, tenant: Tenant, statement: str) -> None:
    created = (await client.post("/v1/connections/manual", json=VALID)).json()
    with _as_app(tenant) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)
    assert _events(tenant, created["id"]) == ["connection.created"]


async def test_app_role_appends_and_reads(tenant: Tenant, clean_tenant: None) -> None:
    with _as_app(tenant) as conn:
        conn.execute("INSERT INTO audit_events (occurred_at, action, actor, details) VALUES (now(), 'x', 'y', '{}')")
        assert conn.execute("SELECT count(*) FROM audit_events WHERE action = 'x'").fetchone() == (1,)


async def test_provisioner_rerun_keeps_the_trail_append_only(tenant: Tenant, clean_tenant: None) -> None:
    """`tallyhold-provision create` re-grants DML on every table of an existing schema; the trail stays closed."""
    with tenant.postgres.connect(DATABASE) as admin:
        TenantDatabase(tenant.names, DATABASE).create(admin, tenant.app_password)
    with _as_app(tenant) as conn:
        conn.execute("INSERT INTO audit_events (occurred_at, action, actor, details) VALUES (now(), 'x', 'y', '{}')")
        for statement in ("UPDATE audit_events SET actor = 'z'", "DELETE FROM audit_events"):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        # Every other table keeps its DML: the app still updates and deletes its own data.
        conn.execute("UPDATE connections SET label = label WHERE false")
        conn.execute("DELETE FROM balances WHERE false")


async def test_deleting_a_connection_keeps_its_events(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = (await client.post("/v1/connections/manual", json=VALID)).json()
    path = f"/v1/connections/{created['id']}"
    assert (await client.patch(path, json={"label": "Savings"})).status_code == 200
    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404
    assert _events(tenant, created["id"]) == ["connection.created", "connection.updated", "connection.deleted"]
