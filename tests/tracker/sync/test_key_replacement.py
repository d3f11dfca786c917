"""A key replaced while a sync runs with the old one: the old sync's answer (balances, a failure, a quarantine)
is about a key that is gone, so it is recorded as `superseded` and nothing of it is stored; the replacement
starts the new key's sync state afresh. The race is made deterministic with the sandbox's `hold` fault: the
old key's first exchange answer waits until the replacement has committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import AuditEvent, Connection
from tallyhold.settings import Settings
from tallyhold.sync.engine import SyncEngine, SyncResult
from tallyhold.sync.service import CREDENTIALS_REPLACED, Outcome
from tallyhold_sandbox import Sandbox, VenueControl
from tests.fixtures.instance import fast_egress, runtime_of, sandbox_settings, sync_now
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import new_key, wait_held
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, ExchangeAccount, connection_row, spot_amounts

PERMISSIONS_PATH = "/sapi/v1/account/apiRestrictions"  # the first call of every Binance sync


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # The held answer must outlive the replacement (a verification round-trip and an encryption) on a busy
    # machine, so the old sync's timeouts are generous; the hold, not a timeout, ends it.
    egress = fast_egress(timeout=60.0, deadline=90)
    return sandbox_settings(tenant, vault_tenant, sandbox, EGRESS_OPTIONS=egress, SYNC_TIMEOUT_SECONDS=90)


def engine_of(app: FastAPI) -> SyncEngine:
    return runtime_of(app).sync.engine


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def read_key(venue: VenueControl, spot: dict[str, str]) -> dict[str, str]:
    api_key, secret = new_key("replacement"), new_key("secret")
    venue.add_key(api_key, secret, permissions=["read"], balances={"spot": spot})
    return {"api_key": api_key, "api_secret": secret}


@contextmanager
def held_permission_check(account: ExchangeAccount) -> Iterator[int]:
    fault = account.venue.add_fault("hold", path=PERMISSIONS_PATH, api_key=account.api_key, times=1)
    try:
        yield fault
    finally:
        account.venue.clear_faults(fault)  # releases whatever still waits on it


@asynccontextmanager
async def old_key_sync(app: FastAPI, account: ExchangeAccount) -> AsyncIterator[asyncio.Task[SyncResult]]:
    """A sync that has claimed the connection and is waiting on the exchange's answer about the old key."""
    with held_permission_check(account) as fault:
        task = asyncio.create_task(engine_of(app).sync_connection(uuid.UUID(account.connection_id)))
        try:
            await wait_held(account.venue, fault)
            yield task
        finally:
            account.venue.release(fault)
            await asyncio.wait_for(asyncio.shield(task), 60)


async def audit_actions(db: async_sessionmaker[AsyncSession], connection_id: str) -> list[tuple[str, Any]]:
    async with db() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.connection_id == uuid.UUID(connection_id)).order_by(AuditEvent.id)
        )
        return [(row.action, row.details) for row in rows]


async def replace(client: httpx.AsyncClient, account: ExchangeAccount, body: dict[str, str]) -> dict[str, Any]:
    response = await client.put(f"/v1/connections/{account.connection_id}/credentials", json=body)
    assert response.status_code == 200, response.text
    replaced: dict[str, Any] = response.json()
    return replaced


async def test_balances_read_with_the_old_key_are_not_stored_after_a_replacement(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    account = await add_binance({"BTC": "1"})
    await sync_now(client)
    before = await connection_row(db, account.connection_id)
    account.set_spot({"BTC": "5"})  # what the old key's account holds by the time its answer comes
    new = read_key(account.venue, {"ETH": "3"})
    superseded = sample("tallyhold_sync_runs_total", kind="exchange", outcome="superseded")

    async with old_key_sync(app, account) as running:
        await replace(client, account, new)
    result = running.result()

    assert (result.outcome, result.code) == (Outcome.superseded, CREDENTIALS_REPLACED)
    assert await spot_amounts(db, account.connection_id) == {"BTC": "1"}, "nothing of the old key's answer"
    row = await connection_row(db, account.connection_id)
    assert row.credentials_version == before.credentials_version + 1
    assert (row.last_sync_at, row.last_observed_at) == (before.last_sync_at, before.last_observed_at)
    assert row.sync_lease_until is None
    assert row.key_hint == new["api_key"][-4:]
    assert sample("tallyhold_sync_runs_total", kind="exchange", outcome="superseded") == superseded + 1
    assert ("connection.sync_superseded", {"reason": CREDENTIALS_REPLACED, "discarded": "success"}) in (
        await audit_actions(db, account.connection_id)
    )

    await sync_now(client)  # the new key syncs as soon as it is asked to
    assert await spot_amounts(db, account.connection_id) == {"ETH": "3"}


async def test_a_quarantine_decided_on_the_old_key_does_not_quarantine_the_new_one(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    account = await add_binance({"BTC": "1"})
    await sync_now(client)
    account.venue.set_permissions(account.api_key, ["read", "trade"])  # the old key gained a write right
    new = read_key(account.venue, {"ETH": "2"})
    quarantines = sample("tallyhold_quarantines_total")
    rejected = sample("tallyhold_credentials_rejected_total", reason="write_permissions")

    async with old_key_sync(app, account) as running:
        await replace(client, account, new)
    result = running.result()

    assert (result.outcome, result.code) == (Outcome.superseded, CREDENTIALS_REPLACED)
    row = await connection_row(db, account.connection_id)
    assert (row.status, row.last_error, row.failure_count) == ("active", None, 0)
    assert sample("tallyhold_quarantines_total") == quarantines
    assert sample("tallyhold_credentials_rejected_total", reason="write_permissions") == rejected
    actions = await audit_actions(db, account.connection_id)
    assert "connection.quarantined" not in [action for action, _ in actions]
    assert ("connection.sync_superseded", {"reason": CREDENTIALS_REPLACED, "discarded": "write_permissions"}) in (
        actions
    )
    assert (await client.get(f"/v1/connections/{account.connection_id}")).json()["status"] == "active"

    await sync_now(client)
    assert await spot_amounts(db, account.connection_id) == {"ETH": "2"}
    assert (await connection_row(db, account.connection_id)).status == "active"


async def test_a_replacement_resets_the_old_keys_sync_state(
    client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    account = await add_binance({"BTC": "1"})
    account.venue.remove_key(account.api_key)  # revoked at the exchange: a permanent error
    await sync_now(client)
    failed = await connection_row(db, account.connection_id)
    assert (failed.status, failed.failure_count) == ("error", 1)
    assert failed.last_error is not None
    # What else the old key may have left: a Retry-After hold, a backoff time, a lease of a sync still running.
    later = datetime.now(UTC) + timedelta(hours=1)
    async with db() as session, session.begin():
        await session.execute(
            update(Connection)
            .where(Connection.id == uuid.UUID(account.connection_id))
            .values(hold_until=later, next_attempt_at=later, sync_lease_until=later, failure_count=4)
        )

    replaced = await replace(client, account, read_key(account.venue, {"SOL": "7"}))

    assert (replaced["status"], replaced["last_error"]) == ("active", None)
    row = await connection_row(db, account.connection_id)
    assert (row.status, row.last_error, row.failure_count) == ("active", None, 0)
    assert (row.next_attempt_at, row.hold_until, row.sync_lease_until) == (None, None, None)
    assert row.credentials_version == failed.credentials_version + 1
    status = {s["connection_id"]: s for s in (await sync_now(client))["sources"]}[account.connection_id]
    assert (status["state"], status["last_error"], status["failure_count"]) == ("ok", None, 0)
    assert await spot_amounts(db, account.connection_id) == {"SOL": "7"}
