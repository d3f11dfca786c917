"""Postgres dies in the middle of a sync's write and comes back: the sync fails
cleanly, nothing is half written, the next run succeeds without restarting the instance, and the window
still holds one snapshot. The module has a Postgres of its own, so killing it disturbs no other test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import ConnectionSnapshot, NetWorthSnapshot
from tallyhold.settings import Settings
from tallyhold.sync.service import Outcome
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import runtime_of, sandbox_settings, sync_now
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, spot_amounts


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    server = LocalPostgres(tmp_path_factory.mktemp("restart-postgres"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tenant(own_postgres: LocalPostgres) -> Iterator[Tenant]:
    created = create_tenant(own_postgres)
    try:
        yield created
    finally:
        drop_tenant(created)


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(tenant, vault_tenant, sandbox, SYNC_TIMEOUT_SECONDS=4)


async def _wait(condition_sql: str, args: tuple[object, ...], admin: psycopg.Connection[tuple[object, ...]]) -> None:
    deadline = time.monotonic() + 60
    while not (row := admin.execute(condition_sql, args).fetchone()) or not row[0]:
        assert time.monotonic() < deadline, "timed out waiting for the database state"
        await asyncio.sleep(0.05)


async def test_postgres_restarted_mid_sync(
    app: FastAPI,
    settings: Settings,
    tenant: Tenant,
    own_postgres: LocalPostgres,
    client: httpx.AsyncClient,
    add_binance: AddAccount,
    db: async_sessionmaker[AsyncSession],
) -> None:
    account = await add_binance({"BTC": "1"})
    await sync_now(client)
    account.set_spot({"BTC": "3"})
    engine = runtime_of(app).sync.engine

    locker, watcher = own_postgres.connect(DATABASE), own_postgres.connect(DATABASE)
    try:
        # The sync's transaction stops after replacing the balances, waiting to write its window snapshot.
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{tenant.schema}".connection_snapshots IN SHARE MODE')
        assert (await client.post("/v1/sync")).status_code == 202
        await _wait(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (f"{settings.customer_id}.scheduler",),
            watcher,
        )
        await asyncio.to_thread(own_postgres.kill)  # an immediate shutdown, as a crash looks to clients
    finally:
        locker.close()
        watcher.close()

    deadline = time.monotonic() + 60
    while engine.running_all:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    report = engine.last_report
    assert report is not None
    assert [(r.outcome, r.code) for r in report.results] == [(Outcome.paused, "database_unavailable")]
    assert report.error == "database_unavailable"
    assert (await client.get("/healthz")).status_code == 200, "the instance itself stays up"

    await asyncio.to_thread(own_postgres.restart_same_port)
    # Same process, same pool: pre-ping replaces the dead connections. The claim's lease (committed before the
    # crash) expires by itself, then the retry applies the new balances.
    deadline = time.monotonic() + 60
    while await spot_amounts(db, account.connection_id) != {"BTC": "3"}:
        assert time.monotonic() < deadline, "no recovery"
        await sync_now(client)
        await asyncio.sleep(0.25)

    async with db() as session:
        windows = list(
            await session.scalars(
                select(ConnectionSnapshot.window_start).where(
                    ConnectionSnapshot.connection_id == uuid.UUID(account.connection_id)
                )
            )
        )
        points = await session.execute(
            select(NetWorthSnapshot.taken_at, func.count()).group_by(NetWorthSnapshot.taken_at)
        )
        per_window = dict(points.all())
    assert len(windows) == len(set(windows)), "one snapshot per window"
    assert set(per_window.values()) == {1}, "one net-worth point per window"
    latest = (await client.get("/v1/networth")).json()
    assert latest["total"] == "195000"
    assert latest["stale_sources"] == []
