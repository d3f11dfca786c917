"""The scheduler inside a running instance (APScheduler 3): one job per connection that syncs it on its own,
backoff that moves the job, reconciliation that follows connections, and the scheduler's metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from apscheduler.triggers.interval import IntervalTrigger
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.settings import Settings
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.scheduler import SyncScheduler
from tallyhold.sync.service import Outcome, Trigger
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import runtime_of, sandbox_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.processes import gone
from tests.fixtures.sandbox import new_key, wait_held
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, connection_row, spot_amounts


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(
        tenant, vault_tenant, sandbox, SYNC_SCHEDULER=True, SYNC_INTERVAL_SECONDS=30, SYNC_JITTER_SECONDS=1
    )


PERMISSIONS_PATH = "/sapi/v1/account/apiRestrictions"  # what every exchange sync asks Binance first


def parts(app: FastAPI) -> tuple[SyncScheduler, SyncEngine]:
    scheduler, engine = runtime_of(app).sync.scheduler, runtime_of(app).sync.engine
    assert scheduler is not None, "these tests run with the scheduler on"
    return scheduler, engine


@pytest_asyncio.fixture(autouse=True)
async def quiet_scheduler(app: FastAPI) -> AsyncIterator[None]:
    """The scheduler keeps running for the whole module: after each test its jobs go, and the syncs they started
    finish, before the next test empties the tables (a TRUNCATE racing a running sync deadlocks)."""
    yield
    scheduler, engine = parts(app)
    scheduler.scheduler.remove_all_jobs()
    deadline = time.monotonic() + 60
    while engine._running and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def worker_of(engine: SyncEngine) -> int | None:
    return engine.egress.worker_pid


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_each_connection_gets_a_job_that_syncs_it(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    scheduler, _ = parts(app)
    lag_count = value("tallyhold_scheduler_lag_seconds_count", job="sync")
    account = await add_binance({"BTC": "1"})
    await scheduler.reconcile()
    job = scheduler.scheduler.get_job(f"sync:{account.connection_id}")
    assert job is not None
    assert job.next_run_time <= datetime.now(UTC) + timedelta(seconds=6), "a new connection syncs soon"
    assert value("tallyhold_scheduler_jobs", job="sync") == 1
    assert value("tallyhold_scheduler_heartbeat_timestamp_seconds") > 0

    deadline = time.monotonic() + 60
    while (await connection_row(db, account.connection_id)).last_sync_at is None:
        assert time.monotonic() < deadline, "the scheduler never synced the connection"
        await asyncio.sleep(0.1)
    assert value("tallyhold_scheduler_lag_seconds_count", job="sync") > lag_count
    assert value("tallyhold_sync_last_success_timestamp_seconds", connection_id=account.connection_id) > 0
    status = (await client.get("/v1/sync/status")).json()
    assert status["scheduler"] == "running"
    assert status["interval_seconds"] == 30
    assert [s["state"] for s in status["sources"]] == ["ok"]


async def test_a_failure_moves_the_job_to_its_backoff_time(
    app: FastAPI, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    scheduler, engine = parts(app)
    account = await add_binance({"ETH": "1"})
    await scheduler.reconcile()
    connection_id = uuid.UUID(account.connection_id)
    with account.venue.fault("server_error", api_key=account.api_key):
        result = await engine.sync_connection(connection_id, Trigger.scheduled)
    assert (result.outcome, result.code) == (Outcome.failed, "exchange_unavailable")
    assert result.next_attempt_at is not None
    job = scheduler.scheduler.get_job(f"sync:{connection_id}")
    assert job is not None
    assert job.next_run_time == result.next_attempt_at
    row = await connection_row(db, account.connection_id)
    assert row.next_attempt_at == result.next_attempt_at
    assert row.failure_count == 1

    # A scheduled run before that time (another grid point) leaves the source alone; a manual one does not.
    early = await engine.sync_connection(connection_id, Trigger.scheduled)
    assert (early.outcome, early.code) == (Outcome.skipped, "backoff")
    manual = await engine.sync_connection(connection_id, Trigger.manual)
    assert manual.outcome is Outcome.success


async def test_jobs_follow_deleted_and_quarantined_connections(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    scheduler, engine = parts(app)
    kept = await add_binance({"BTC": "1"})
    deleted = await add_binance({"ETH": "1"})
    quarantined = await add_binance({"SOL": "1"})
    await scheduler.reconcile()
    await engine.sync_all(Trigger.manual)
    assert value("tallyhold_sync_last_success_timestamp_seconds", connection_id=deleted.connection_id) > 0

    assert (await client.delete(f"/v1/connections/{deleted.connection_id}")).status_code == 204
    quarantined.venue.set_permissions(quarantined.api_key, ["read", "withdraw"])
    # The scheduler's own job for this connection may be running at this very moment (its first run is jittered
    # near now); the manual run is then refused as `busy`, correctly. Either way the drift must quarantine it.
    deadline = time.monotonic() + 30
    while True:
        result = await engine.sync_connection(uuid.UUID(quarantined.connection_id), Trigger.manual)
        if (result.outcome, result.code) != (Outcome.skipped, "busy") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert result.outcome in {Outcome.quarantined, Outcome.skipped}
    row = await connection_row(db, quarantined.connection_id)
    assert row.status == "quarantined"
    await scheduler.reconcile()

    jobs = {job.id for job in scheduler.scheduler.get_jobs() if job.id.startswith("sync:")}
    assert jobs == {f"sync:{kept.connection_id}"}
    assert (
        REGISTRY.get_sample_value(
            "tallyhold_sync_last_success_timestamp_seconds", {"connection_id": deleted.connection_id}
        )
        is None
    ), "a deleted connection's series goes away"
    assert value("tallyhold_sources", kind="exchange", state="quarantined") == 1
    # The kept source is healthy; its scheduled job may be running right now, which the gauge shows as such.
    healthy = sum(value("tallyhold_sources", kind="exchange", state=state) or 0 for state in ("ok", "syncing"))
    assert healthy == 1


async def test_a_replaced_key_is_synced_by_the_scheduler_at_once(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    scheduler, engine = parts(app)
    account = await add_binance({"BTC": "1"})
    account.venue.set_permissions(account.api_key, ["read", "withdraw"])
    await scheduler.reconcile()
    await engine.sync_all(Trigger.manual)  # the scheduler's own first run may race it: either quarantines
    assert (await connection_row(db, account.connection_id)).status == "quarantined"
    await scheduler.reconcile()
    assert scheduler.scheduler.get_job(f"sync:{account.connection_id}") is None, "a quarantined key has no job"

    api_key, secret = new_key("replacement"), new_key("secret")
    account.venue.add_key(api_key, secret, permissions=["read"], balances={"spot": {"ETH": "4"}})
    scheduler.scheduler.pause()  # nothing runs until resumed: the job's time is looked at as the PUT left it
    try:
        replaced = await client.put(
            f"/v1/connections/{account.connection_id}/credentials", json={"api_key": api_key, "api_secret": secret}
        )
        assert replaced.status_code == 200, replaced.text
        job = scheduler.scheduler.get_job(f"sync:{account.connection_id}")
        assert job is not None, "the job is back"
        assert job.next_run_time <= datetime.now(UTC), "due now, not at the next grid point 30 s away"
    finally:
        scheduler.scheduler.resume()
    deadline = time.monotonic() + 30
    while await spot_amounts(db, account.connection_id) != {"ETH": "4"}:
        assert time.monotonic() < deadline, "the scheduler did not sync the new key"
        await asyncio.sleep(0.05)
    assert (await connection_row(db, account.connection_id)).status == "active"


async def test_a_scheduled_sync_superseded_by_a_new_key_is_followed_by_one_with_the_new_key(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    """The job's own run is still in progress when its old-key result is discarded: moving the job to "now" at
    that moment would be skipped by APScheduler (one instance per job) until the next interval."""
    scheduler, _ = parts(app)
    superseded = value("tallyhold_sync_runs_total", kind="exchange", outcome="superseded")
    account = await add_binance({"BTC": "1"})
    job_id = f"sync:{account.connection_id}"
    scheduler.scheduler.pause()
    await scheduler.reconcile()
    job = scheduler.scheduler.get_job(job_id)
    assert job is not None
    # An interval far beyond the test: only the follow-up sync can bring the new key's balances in time.
    job.modify(trigger=IntervalTrigger(seconds=3600), next_run_time=datetime.now(UTC))
    fault = account.venue.add_fault("hold", path=PERMISSIONS_PATH, api_key=account.api_key, times=1)
    try:
        scheduler.scheduler.resume()
        await wait_held(account.venue, fault)  # the job's run is asking the venue with the old key
        api_key, secret = new_key("replacement"), new_key("secret")
        account.venue.add_key(api_key, secret, permissions=["read"], balances={"spot": {"ETH": "4"}})
        replaced = await client.put(
            f"/v1/connections/{account.connection_id}/credentials", json={"api_key": api_key, "api_secret": secret}
        )
        assert replaced.status_code == 200, replaced.text
    finally:
        account.venue.release(fault)
        account.venue.clear_faults(fault)
    deadline = time.monotonic() + 60
    while await spot_amounts(db, account.connection_id) != {"ETH": "4"}:
        assert time.monotonic() < deadline, "the new key was not synced after the superseded run"
        await asyncio.sleep(0.05)
    assert value("tallyhold_sync_runs_total", kind="exchange", outcome="superseded") == superseded + 1


async def test_the_cycle_lets_its_egress_worker_go_unless_a_sync_comes_due_within_its_idle_time(
    app: FastAPI, add_binance: AddAccount
) -> None:
    """After the cycle's prices the worker (the real subprocess) would idle on with its memory and a host slot;
    it is let go, except while a source's sync is due before the worker's idle time would have ended."""
    scheduler, engine = parts(app)
    assert engine.egress.mode == "subprocess"
    if scheduler.scheduler.get_job("prices") is not None:
        scheduler.scheduler.remove_job("prices")  # the test runs the cycle's end itself
    scheduler.scheduler.pause()
    try:
        account = await add_binance({"BTC": "1"})  # the key check starts the worker
        await scheduler.reconcile()
        job = scheduler.scheduler.get_job(f"sync:{account.connection_id}")
        assert job is not None
        worker = worker_of(engine)
        assert worker is not None

        job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=engine.egress.idle_seconds / 2))
        await scheduler.prices_after_sources()
        assert worker_of(engine) == worker, "a sync comes due within the idle time: the worker stays"

        job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=engine.egress.idle_seconds * 3))
        await scheduler.prices_after_sources()
        assert worker_of(engine) is None
        deadline = time.monotonic() + engine.egress.idle_seconds / 2
        while not gone(worker):
            assert time.monotonic() < deadline, "the worker idles on after its cycle"
            await asyncio.sleep(0.05)

        result = await engine.sync_connection(uuid.UUID(account.connection_id), Trigger.manual)
        assert result.outcome is Outcome.success, "the next sync starts a worker again"
    finally:
        scheduler.scheduler.resume()
