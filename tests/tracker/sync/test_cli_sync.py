"""`tallyhold sync --once` as an operator runs it (a real process), and a sync process killed in the middle of
its write: the transaction dies with it, nothing is half written, and the next run completes the window."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import ConnectionSnapshot
from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import sandbox_settings, settings_env, sync_now
from tests.fixtures.platform import DATABASE, Tenant
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, snapshot_count, spot_amounts


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(tenant, vault_tenant, sandbox, SYNC_TIMEOUT_SECONDS=6)


def sync_once(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tallyhold.cli", "sync", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


async def test_sync_once_reports_each_source_and_fails_when_one_fails(
    settings: Settings, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    good = await add_binance({"BTC": "1"})
    bad = await add_binance({"ETH": "1"})
    result = await asyncio.to_thread(sync_once, settings, "--once")
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert {f"{good.connection_id} success -", f"{bad.connection_id} success -", "synced 2 sources, 0 failed"} <= lines
    assert await spot_amounts(db, good.connection_id) == {"BTC": "1"}

    with bad.venue.fault("server_error", api_key=bad.api_key):
        result = await asyncio.to_thread(sync_once, settings, "--once")
    assert result.returncode == 1
    assert f"{bad.connection_id} failed exchange_unavailable" in result.stdout.splitlines()
    assert "synced 2 sources, 1 failed" in result.stdout
    assert bad.api_key not in result.stdout + result.stderr

    assert (await asyncio.to_thread(sync_once, settings)).returncode == 2, "only --once exists"


async def _wait_blocked(admin: psycopg.Connection[tuple[object, ...]], application: str, deadline: float) -> None:
    while True:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application,),
        ).fetchone()
        if row and row[0]:
            return
        assert time.monotonic() < deadline, "the sync never reached its write"
        await asyncio.sleep(0.05)


async def test_a_sync_killed_mid_write_leaves_no_partial_rows(
    settings: Settings,
    tenant: Tenant,
    client: httpx.AsyncClient,
    add_binance: AddAccount,
    db: async_sessionmaker[AsyncSession],
) -> None:
    account = await add_binance({"BTC": "1", "ETH": "2"})
    await sync_now(client)
    before_rows = await snapshot_count(db, account.connection_id)
    async with db() as session:
        before = {
            s.window_start: s.holdings
            for s in await session.scalars(
                select(ConnectionSnapshot).where(ConnectionSnapshot.connection_id == uuid.UUID(account.connection_id))
            )
        }
    account.set_spot({"BTC": "5"})

    with tenant.postgres.connect(DATABASE) as locker, tenant.postgres.connect(DATABASE) as watcher:
        # Writers of the window snapshots wait on this lock: the sync process stops inside its transaction
        # after it replaced the balances, before it could write the snapshot or commit.
        locker.execute("BEGIN")
        locker.execute(f'LOCK TABLE "{tenant.schema}".connection_snapshots IN SHARE MODE')
        process = subprocess.Popen(
            [sys.executable, "-m", "tallyhold.cli", "sync", "--once"],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            await _wait_blocked(watcher, f"{settings.customer_id}.sync", time.monotonic() + 60)
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 30)
        finally:
            if process.poll() is None:
                process.kill()
            locker.execute("ROLLBACK")

    assert await spot_amounts(db, account.connection_id) == {"BTC": "1", "ETH": "2"}, "old balances, whole"
    async with db() as session:
        after = {
            s.window_start: s.holdings
            for s in await session.scalars(
                select(ConnectionSnapshot).where(ConnectionSnapshot.connection_id == uuid.UUID(account.connection_id))
            )
        }
    assert after == before, "no snapshot row was added or changed"
    assert await snapshot_count(db, account.connection_id) == before_rows

    # The killed process's lease expires by itself; the next run completes the window.
    deadline = time.monotonic() + 60
    while await spot_amounts(db, account.connection_id) != {"BTC": "5"}:
        assert time.monotonic() < deadline, "the rerun never applied"
        await sync_now(client)
        await asyncio.sleep(0.5)
    async with db() as session:
        latest = (
            await session.scalars(
                select(ConnectionSnapshot)
                .where(ConnectionSnapshot.connection_id == uuid.UUID(account.connection_id))
                .order_by(ConnectionSnapshot.window_start.desc())
            )
        ).first()
    assert latest is not None
    assert [(h["asset"], h["amount"]) for h in latest.holdings] == [("BTC", "5")]
    assert (await client.get("/v1/networth")).json()["total"] == "325000"
