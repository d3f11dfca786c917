"""Creating an exchange connection or replacing its key waits on the exchange's permission answer with no
database transaction open: no pool connection sits `idle in transaction`, no token row is locked (a token
revocation during the round-trip goes through at once, and is honoured: 401, nothing stored). The sandbox's
`hold` fault keeps the verification answer back while the database is looked at."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from psycopg import sql as psycopg_sql
from sqlalchemy import text

from tallyhold.auth import service as token_service
from tallyhold.credentials.locks import EXCLUSIVE_SQL, UNLOCK_SQL, lock_key
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox, VenueControl
from tests.fixtures.instance import assert_error, fast_egress, instance_settings, issue_token
from tests.fixtures.platform import DATABASE, Tenant
from tests.fixtures.sandbox import new_key, wait_held
from tests.fixtures.vault import VaultTenant

PERMISSIONS_PATH = "/sapi/v1/account/apiRestrictions"  # what the verifier asks Binance


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # The held answer must outlive the checks made meanwhile: the hold, not a client timeout, ends it.
    egress = fast_egress(timeout=60.0, deadline=90)
    return instance_settings(
        tenant, **vault_tenant.settings(), EXCHANGE_API_OVERRIDES=sandbox.overrides_json(), EGRESS_OPTIONS=egress
    )


def binance_key(sandbox: Sandbox) -> tuple[VenueControl, dict[str, str]]:
    venue = sandbox.control("binance")
    api_key, secret = new_key("write"), new_key("secret")
    venue.add_key(api_key, secret, permissions=["read"], balances={"spot": {"BTC": "1"}})
    return venue, {"api_key": api_key, "api_secret": secret}


def open_transactions(tenant: Tenant) -> list[str]:
    """States of the instance role's backends that are inside a transaction (`idle in transaction`, ...)."""
    with tenant.postgres.connect(DATABASE) as admin:
        rows = admin.execute(
            "SELECT state FROM pg_stat_activity WHERE usename = %s AND xact_start IS NOT NULL",
            (tenant.names.app_role,),
        ).fetchall()
    return [str(row[0]) for row in rows]


@contextmanager
def held_verification(venue: VenueControl, api_key: str) -> Iterator[int]:
    fault = venue.add_fault("hold", path=PERMISSIONS_PATH, api_key=api_key, times=1)
    try:
        yield fault
    finally:
        venue.clear_faults(fault)


@asynccontextmanager
async def while_verifying(
    client: httpx.AsyncClient, venue: VenueControl, method: str, url: str, body: dict[str, Any]
) -> AsyncIterator[asyncio.Task[httpx.Response]]:
    """Sends the request and yields while the exchange's permission answer is held back."""
    with held_verification(venue, body["api_key"]) as fault:
        request = asyncio.create_task(client.request(method, url, json=body))
        try:
            await wait_held(venue, fault)
            assert not request.done()
            yield request
        finally:
            venue.release(fault)
            await asyncio.wait_for(asyncio.shield(request), 60)


async def revoke_without_waiting(settings: Settings, token: str) -> None:
    """Revokes the token in a transaction that gives up after 2 s on a lock instead of queueing behind one."""
    engine = create_engine(settings, process="test")
    try:
        async with transaction(create_session_maker(engine)) as session:
            await session.execute(text("SET LOCAL lock_timeout = '2s'"))
            await token_service.revoke(session, token.split("_")[1])
    finally:
        await engine.dispose()


async def test_no_transaction_is_open_while_the_exchange_verifies_a_new_connection(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant
) -> None:
    venue, key = binance_key(sandbox)
    body = {"exchange": "binance", "label": "Held", **key}
    async with while_verifying(client, venue, "POST", "/v1/connections/exchange", body) as request:
        assert await asyncio.to_thread(open_transactions, tenant) == []
    created = request.result()
    assert created.status_code == 201, created.text
    assert created.json()["key_hint"] == key["api_key"][-4:]


async def test_no_transaction_is_open_while_the_exchange_verifies_a_replacement(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant
) -> None:
    venue, old = binance_key(sandbox)
    created = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "Old", **old})
    assert created.status_code == 201, created.text
    _, new = binance_key(sandbox)
    url = f"/v1/connections/{created.json()['id']}/credentials"
    async with while_verifying(client, venue, "PUT", url, new) as request:
        assert await asyncio.to_thread(open_transactions, tenant) == []
    replaced = request.result()
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["key_hint"] == new["api_key"][-4:]


async def test_a_token_revoked_during_verification_is_not_blocked_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, sandbox: Sandbox, settings: Settings, token: str
) -> None:
    venue, old = binance_key(sandbox)
    created = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "Old", **old})
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    _, new = binance_key(sandbox)
    async with while_verifying(client, venue, "PUT", f"/v1/connections/{connection_id}/credentials", new) as request:
        # Before the fix, the request's transaction held the token row (its last-use update) right here.
        await revoke_without_waiting(settings, token)
    assert_error(request.result(), 401, "unauthorized")

    fresh = await fresh_client(app, settings)
    try:
        shown = (await fresh.get(f"/v1/connections/{connection_id}")).json()
        assert shown["key_hint"] == old["api_key"][-4:], "the old key stays"
    finally:
        await fresh.aclose()


async def fresh_client(app: FastAPI, settings: Settings) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {await issue_token(settings, 'after revocation')}"}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://instance.test", headers=headers)


async def test_a_replacement_during_a_rotations_final_pass_waits_instead_of_deadlocking(
    client: httpx.AsyncClient, sandbox: Sandbox, tenant: Tenant
) -> None:
    """The rotation's final pass holds the exclusive credential lock and then rewrites connection rows; a key
    replacement must take the credential lock before the row, or the two deadlock (Postgres kills one)."""
    _, old = binance_key(sandbox)
    created = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "Rot", **old})
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    _, new = binance_key(sandbox)
    key = lock_key(tenant.names.schema)
    with tenant.postgres.connect(DATABASE) as rotation:  # stands in for rotate_and_rewrap's final pass
        rotation.execute(EXCLUSIVE_SQL, key)
        request = asyncio.create_task(client.put(f"/v1/connections/{connection_id}/credentials", json=new))
        await wait_for_advisory_waiter(tenant)
        # The final pass rewrites the row (as its write-back does) while the replacement waits for the lock.
        await asyncio.to_thread(rewrite_row, rotation, tenant.names.schema, connection_id)
        rotation.execute(UNLOCK_SQL, key)
    replaced = await asyncio.wait_for(request, 60)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["key_hint"] == new["api_key"][-4:]


def rewrite_row(rotation: Any, schema: str, connection_id: str) -> None:
    with rotation.transaction():
        rotation.execute("SET LOCAL lock_timeout = '5s'")  # a lock wait fails the test instead of hanging it
        statement = psycopg_sql.SQL("UPDATE {}.connections SET updated_at = now() WHERE id = %s")
        rotation.execute(statement.format(psycopg_sql.Identifier(schema)), (connection_id,))


async def wait_for_advisory_waiter(tenant: Tenant) -> None:
    def waiting() -> bool:
        with tenant.postgres.connect(DATABASE) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND wait_event = 'advisory'",
                (tenant.names.app_role,),
            ).fetchone()
        return bool(row and row[0])

    for _ in range(600):
        if await asyncio.to_thread(waiting):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replacement never waited for the credential lock")
