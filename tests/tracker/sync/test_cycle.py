"""An instance's sync cycle: every source's job and the prices job fire on one grid (the instance's phase into
each interval, drawn once over the whole interval), so one egress worker start serves the whole cycle; instances get
different phases; retries, restarts and new connections keep their own rules and rejoin the grid. Schedules
are computed with seeded random generators, on schedulers laid out paused in a real instance."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import Connection
from tallyhold.settings import Settings
from tallyhold.sync.scheduler import SyncScheduler
from tallyhold.sync.service import Outcome, Trigger
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import runtime_of, sandbox_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import wait_held
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, connection_row, key_requests

INTERVAL = 60
JITTER = 20
EPOCH = datetime.fromtimestamp(0, UTC)
PERMISSIONS_PATH = "/sapi/v1/account/apiRestrictions"  # what every exchange sync asks Binance first


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # The app's own scheduler is off: each test lays out schedulers of its own over the instance's engine.
    schedule = {"SYNC_INTERVAL_SECONDS": INTERVAL, "SYNC_JITTER_SECONDS": JITTER}
    return sandbox_settings(tenant, vault_tenant, sandbox, SYNC_SCHEDULER=False, **schedule)


Laid = Callable[[int], AbstractAsyncContextManager[SyncScheduler]]


@pytest.fixture
def laid_out(app: FastAPI, settings: Settings, db: async_sessionmaker[AsyncSession]) -> Laid:
    """A scheduler over the instance's engine, with a seeded phase, started paused and reconciled."""

    @asynccontextmanager
    async def lay(seed: int) -> AsyncIterator[SyncScheduler]:
        engine = runtime_of(app).sync.engine
        scheduler = SyncScheduler(settings, db, engine, rng=random.Random(seed))
        scheduler.start(paused=True)
        try:
            await scheduler.reconcile()
            yield scheduler
        finally:
            await settled(scheduler)
            scheduler.shutdown()
            engine.on_result.remove(scheduler._after_sync)

    return lay


async def settled(scheduler: SyncScheduler) -> None:
    """The jobs a test's scheduler started are over before the next test empties the tables."""
    deadline = time.monotonic() + 60
    while (scheduler.engine.running or scheduler._in_progress) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def on_grid(moment: datetime, scheduler: SyncScheduler) -> bool:
    return (moment - EPOCH - scheduler.phase) % timedelta(seconds=INTERVAL) == timedelta(0)


def fire_times(scheduler: SyncScheduler, job_id: str, count: int) -> list[datetime]:
    """The job's next `count` fire times, as APScheduler will compute them from its trigger."""
    job = scheduler.scheduler.get_job(job_id)
    assert job is not None
    times = [job.next_run_time]
    while len(times) < count:
        times.append(job.trigger.get_next_fire_time(times[-1], times[-1]))
    return list(times)


def sync_jobs(scheduler: SyncScheduler) -> list[str]:
    return sorted(job.id for job in scheduler.scheduler.get_jobs() if job.id.startswith("sync:"))


async def set_attempts(
    db: async_sessionmaker[AsyncSession], last: datetime | None, next_attempt: datetime | None = None
) -> None:
    """What a previous run of the instance left in the database (the restart cases)."""
    async with db() as session, session.begin():
        await session.execute(update(Connection).values(last_attempt_at=last, next_attempt_at=next_attempt))


async def test_every_source_and_the_prices_job_share_the_instance_grid(
    laid_out: Laid, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    for asset in ("BTC", "ETH", "SOL"):
        await add_binance({asset: "1"})
    await set_attempts(db, datetime.now(UTC) - timedelta(seconds=INTERVAL / 3))
    async with laid_out(1) as scheduler:
        assert timedelta(0) <= scheduler.phase < timedelta(seconds=INTERVAL)
        jobs = sync_jobs(scheduler)
        assert len(jobs) == 3
        cycles = [fire_times(scheduler, job_id, 4) for job_id in jobs]
        assert cycles[0] == cycles[1] == cycles[2], "the sources come due together, every interval"
        assert all(on_grid(moment, scheduler) for moment in cycles[0])
        assert [b - a for a, b in zip(cycles[0], cycles[0][1:], strict=False)] == [timedelta(seconds=INTERVAL)] * 3
        # The prices job starts soon after the instance, then fires on the grid, so with the sources at every one
        # of their grid points. (It may also fire at a grid point before the sources' first: they start at least
        # half an interval after their last attempt, the prices job at once.)
        prices = fire_times(scheduler, "prices", 6)
        assert prices[0] <= datetime.now(UTC) + timedelta(seconds=5)
        assert all(on_grid(moment, scheduler) for moment in prices[1:])
        assert set(cycles[0][:3]) <= set(prices)


async def test_two_instances_get_different_phases_each_followed_by_all_their_jobs(
    laid_out: Laid, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    await add_binance({"BTC": "1"})
    await add_binance({"ETH": "1"})
    await set_attempts(db, datetime.now(UTC) - timedelta(seconds=INTERVAL / 3))
    async with laid_out(1) as first, laid_out(2) as second:
        assert first.phase != second.phase
        for scheduler in (first, second):
            moments = {moment for job_id in sync_jobs(scheduler) for moment in fire_times(scheduler, job_id, 3)}
            moments |= set(fire_times(scheduler, "prices", 3)[1:])
            assert all(on_grid(moment, scheduler) for moment in moments)
        assert not set(fire_times(first, sync_jobs(first)[0], 3)) & set(fire_times(second, sync_jobs(second)[0], 3))


async def test_the_instances_of_a_host_spread_over_the_whole_interval(laid_out: Laid) -> None:
    """Each instance's cycle is a moment of the host's CPU (a worker start) and of its egress pool's budget: the
    phases of many instances cover the interval, not only the jitter (drawn from the jitter, 25 customers' syncs
    of a 5-minute interval all fell within the same 30 s and queued for Binance's budget)."""
    phases = []
    for seed in range(12):
        async with laid_out(seed) as scheduler:
            phases.append(scheduler.phase.total_seconds())
    assert all(0 <= phase < INTERVAL for phase in phases)
    assert sum(phase >= JITTER for phase in phases) >= 6  # uniform over 60 s: 2/3 of them past 20 s


async def test_a_restart_joins_the_grid_without_syncing_sooner_than_half_an_interval(
    laid_out: Laid, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    for asset in ("BTC", "ETH"):
        await add_binance({asset: "1"})
    last = datetime.now(UTC) - timedelta(seconds=5)  # the previous process synced them just before it stopped
    await set_attempts(db, last)
    async with laid_out(3) as scheduler:
        firsts = {fire_times(scheduler, job_id, 1)[0] for job_id in sync_jobs(scheduler)}
        assert len(firsts) == 1, "one cycle"
        (first,) = firsts
        assert on_grid(first, scheduler)
        assert last + timedelta(seconds=INTERVAL / 2) <= first < last + timedelta(seconds=INTERVAL * 1.5)


async def test_sources_overdue_after_a_restart_sync_together_at_the_instance_phase(
    laid_out: Laid, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    for asset in ("BTC", "ETH"):
        await add_binance({asset: "1"})
    await set_attempts(db, datetime.now(UTC) - timedelta(hours=2))  # the instance was down for two hours
    before = datetime.now(UTC)
    async with laid_out(4) as scheduler:
        firsts = {fire_times(scheduler, job_id, 1)[0] for job_id in sync_jobs(scheduler)}
        assert len(firsts) == 1, "the overdue sources sync together"
        (first,) = firsts
        assert timedelta(0) <= scheduler.restart_delay < timedelta(seconds=JITTER)
        assert before + scheduler.restart_delay <= first <= datetime.now(UTC) + scheduler.restart_delay
        following = fire_times(scheduler, sync_jobs(scheduler)[0], 3)[1:]
        assert all(on_grid(moment, scheduler) for moment in following), "then the grid"


async def test_a_pending_retry_keeps_its_time_and_new_connections_sync_soon(
    laid_out: Laid, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    retry = datetime.now(UTC).replace(microsecond=123456) + timedelta(seconds=7)
    await add_binance({"BTC": "1"})
    await set_attempts(db, datetime.now(UTC) - timedelta(seconds=10), retry)
    fresh = await add_binance({"ETH": "1"})
    async with laid_out(5) as scheduler:
        waiting = next(job_id for job_id in sync_jobs(scheduler) if not job_id.endswith(fresh.connection_id))
        times = fire_times(scheduler, waiting, 3)
        assert times[0] == retry, "the retry keeps its backoff time"
        assert retry < times[1] <= retry + timedelta(seconds=INTERVAL), "then the next grid point"
        assert on_grid(times[1], scheduler)
        new = fire_times(scheduler, f"sync:{fresh.connection_id}", 2)
        assert new[0] <= datetime.now(UTC) + timedelta(seconds=5), "a new connection syncs soon"
        assert on_grid(new[1], scheduler)
        assert new[0] < new[1] <= new[0] + timedelta(seconds=INTERVAL)


async def test_a_failure_moves_the_job_to_its_backoff_then_back_to_the_grid(
    app: FastAPI, laid_out: Laid, add_binance: AddAccount
) -> None:
    account = await add_binance({"ETH": "1"})
    engine = runtime_of(app).sync.engine
    async with laid_out(6) as scheduler:
        with account.venue.fault("server_error", api_key=account.api_key):
            result = await engine.sync_connection(uuid.UUID(account.connection_id), Trigger.scheduled)
        assert (result.outcome, result.code) == (Outcome.failed, "exchange_unavailable")
        assert result.next_attempt_at is not None
        times = fire_times(scheduler, f"sync:{account.connection_id}", 2)
        assert times[0] == result.next_attempt_at
        assert on_grid(times[1], scheduler)
        assert times[0] < times[1] <= times[0] + timedelta(seconds=INTERVAL)


async def test_a_cycle_starts_one_worker_and_prices_after_its_sources(
    app: FastAPI, laid_out: Laid, add_binance: AddAccount, sandbox: Sandbox, db: async_sessionmaker[AsyncSession]
) -> None:
    """A whole cycle fired at once: the prices (the first venue asked is Kraken, where no source of this test
    lives) are asked for only after the last source's calls, and the worker starts at most once for all of it."""
    accounts = [await add_binance({asset: "1"}) for asset in ("BTC", "ETH", "SOL")]
    egress = runtime_of(app).sync.engine.egress
    await egress.aclose()  # the cycle below starts its own worker
    starts = REGISTRY.get_sample_value("tallyhold_egress_worker_starts_total") or 0.0
    binance, kraken = sandbox.control("binance"), sandbox.control("kraken")
    since_binance, since_kraken = binance.last_seq(), kraken.last_seq()
    held = accounts[0]
    async with laid_out(7) as scheduler:
        due = datetime.now(UTC)
        for job in scheduler.scheduler.get_jobs():
            if job.id == "prices" or job.id.startswith("sync:"):
                job.modify(next_run_time=due)
        fault = binance.add_fault("hold", path=PERMISSIONS_PATH, api_key=held.api_key, times=1)
        try:
            scheduler.scheduler.resume()
            await wait_held(binance, fault)
        finally:
            binance.release(fault)
            binance.clear_faults(fault)
        deadline = time.monotonic() + 60
        while not kraken.requests(since_kraken) or scheduler._in_progress:
            assert time.monotonic() < deadline, "the cycle's prices never ran"
            await asyncio.sleep(0.05)
        for account in accounts:
            assert (await connection_row(db, account.connection_id)).last_sync_at is not None
    held_calls = [
        datetime.fromisoformat(e["at"]) for e in binance.requests(since_binance) if e["key_hint"] == held.api_key[-4:]
    ]
    assert key_requests(binance, held.api_key, since_binance), "the held source was synced"
    price_calls = [datetime.fromisoformat(e["at"]) for e in kraken.requests(since_kraken)]
    assert min(price_calls) > max(held_calls), "prices come after the cycle's sources"
    assert (REGISTRY.get_sample_value("tallyhold_egress_worker_starts_total") or 0.0) == starts + 1
