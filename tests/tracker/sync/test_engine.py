"""The sync engine end to end: exchange connections created through the API (real verifier, real OpenBao
cipher), synced by the Binance connector in the egress worker against the sandbox venue with faults scoped
to each test's keys. Covers 429 and 418 (bans), partial failure and idempotency."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.egress.client import EgressClient
from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.models import AuditEvent, ConnectionSnapshot, NetWorthSnapshot, VenueBreaker
from tallyhold.runtime import egress_config
from tallyhold.settings import Settings
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.policy import window_start
from tallyhold.sync.service import Outcome, Trigger
from tallyhold_sandbox import Sandbox
from tests.fixtures.egress_budget import venue_limit
from tests.fixtures.instance import runtime_of, sandbox_settings, sync_now
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant, lift_pool_hold
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount, connection_row, key_requests, snapshot_count, spot_amounts


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(tenant, vault_tenant, sandbox)


def sources(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["connection_id"]: s for s in status["sources"]}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_one_failing_source_never_blocks_the_others(
    client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    accounts = [await add_binance({"USDT": str(100 * (i + 1))}, label=f"Account {i}") for i in range(5)]
    first = sources(await sync_now(client))
    assert {first[a.connection_id]["state"] for a in accounts} == {"ok"}
    assert (await client.get("/v1/networth")).json()["total"] == "1500"

    hang, server_error, malformed, good_a, good_b = accounts
    for account in accounts:
        account.set_spot({"USDT": "1000"})
    venue = hang.venue
    faults = [
        venue.add_fault("hang", api_key=hang.api_key, seconds=30),
        venue.add_fault("server_error", api_key=server_error.api_key),
        venue.add_fault("malformed_json", api_key=malformed.api_key),
    ]
    try:
        status = sources(await sync_now(client))
    finally:
        for fault in faults:
            venue.clear_faults(fault)

    expected_codes = {hang: "timeout", server_error: "exchange_unavailable", malformed: "malformed_response"}
    for account, code in expected_codes.items():
        source = status[account.connection_id]
        assert (source["state"], source["last_error"], source["stale"]) == ("stale", code, True)
        assert source["next_attempt_at"] is not None, "retried with backoff"
    for account in (good_a, good_b):
        assert (status[account.connection_id]["state"], status[account.connection_id]["last_error"]) == ("ok", None)
        assert await spot_amounts(db, account.connection_id) == {"USDT": "1000"}
    for index, account in enumerate((hang, server_error, malformed)):
        assert await spot_amounts(db, account.connection_id) == {"USDT": str(100 * (index + 1))}, "last good kept"

    items = (await client.get("/v1/balances")).json()["items"]
    stale = {i["connection_id"]: i["stale"] for i in items}
    assert {cid for cid, flag in stale.items() if flag} == {a.connection_id for a in expected_codes}
    networth = (await client.get("/v1/networth")).json()
    assert networth["total"] == "2600"  # 100 + 200 + 300 (last good) + 1000 + 1000 (fresh)
    assert sorted(networth["stale_sources"]) == sorted(a.connection_id for a in expected_codes)


async def test_429_retry_after_is_honoured_for_the_whole_venue(
    client: httpx.AsyncClient, add_binance: AddAccount, sandbox: Sandbox
) -> None:
    limited = await add_binance({"BTC": "1"})
    bystander = await add_binance({"ETH": "1"})
    await sync_now(client)
    venue = limited.venue
    seq = venue.last_seq()
    fault = venue.add_fault("rate_limit", api_key=limited.api_key, retry_after=3)
    try:
        before = datetime.now(UTC)
        status = sources(await sync_now(client))
        attempts = key_requests(venue, limited.api_key, seq)
        assert 1 <= len(attempts) <= 3
        source = status[limited.connection_id]
        assert source["last_error"] == "rate_limited"
        hold = datetime.fromisoformat(source["hold_until"]) - before
        assert timedelta(seconds=2) < hold <= timedelta(seconds=4)

        during = venue.last_seq()
        held = await sync_now(client)
        assert venue.requests(during) == [], "no request to the venue while it asked us to wait"
        assert [(v["venue"], v["reason"]) for v in held["venues"]] == [("binance", "rate_limited")]
        assert sources(held)[bystander.connection_id]["breaker_open_until"] is not None
    finally:
        venue.clear_faults(fault)

    # Once the Retry-After has passed, the venue is called again and both sources recover.
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        status = sources(await sync_now(client))
        if status[limited.connection_id]["state"] == "ok":
            break
        assert asyncio.get_running_loop().time() < deadline, status[limited.connection_id]
        await asyncio.sleep(0.25)
    assert status[bystander.connection_id]["state"] == "ok", status[bystander.connection_id]
    assert status[limited.connection_id]["failure_count"] == 0


async def test_418_holds_the_breaker_open_for_the_whole_ban(
    client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    banned = await add_binance({"BTC": "1"})
    other = await add_binance({"ETH": "2"})
    await sync_now(client)
    venue = banned.venue
    with venue.fault("ban", api_key=banned.api_key, retry_after=7200, times=1):
        before = datetime.now(UTC)
        status = sources(await sync_now(client))
    assert status[banned.connection_id]["last_error"] == "banned"
    async with db() as session:
        breaker = await session.get(VenueBreaker, "binance")
    assert breaker is not None
    assert breaker.reason == "banned"
    assert timedelta(seconds=7190) < breaker.open_until - before <= timedelta(seconds=7210)
    assert sample("tallyhold_breaker_open", venue="binance", reason="banned") == 1

    skipped = {r: sample("tallyhold_sync_skips_total", kind="exchange", reason=r) for r in ("breaker_open", "held")}
    seq = venue.last_seq()
    for _ in range(3):
        status = sources(await sync_now(client))
    assert venue.requests(seq) == [], "zero calls to a banned venue, for any key"
    # The banned key's connection is held (its own Retry-After); every other key of the venue meets the breaker.
    assert sample("tallyhold_sync_skips_total", kind="exchange", reason="held") == skipped["held"] + 3
    assert sample("tallyhold_sync_skips_total", kind="exchange", reason="breaker_open") == skipped["breaker_open"] + 3
    assert status[other.connection_id]["breaker_open_until"] is not None
    assert await spot_amounts(db, other.connection_id) == {"ETH": "2"}, "balances kept, flagged stale later"

    # An operator who knows better deletes the row: the breaker closes in the running instance too. The banned
    # key's own hold (its Retry-After) still stands.
    async with db() as session, session.begin():
        await session.execute(delete(VenueBreaker).where(VenueBreaker.venue == "binance"))
    lift_pool_hold(tenant, "binance")  # the egress pool's own hold (every instance behind the IP) too
    status = sources(await sync_now(client))
    assert status[other.connection_id]["state"] == "ok"
    assert status[banned.connection_id]["hold_until"] is not None
    assert sample("tallyhold_breaker_open", venue="binance", reason="banned") == 0


async def test_a_source_whose_turn_in_a_busy_egress_pool_is_windows_away_comes_back_at_its_turn(
    app: FastAPI, add_binance: AddAccount, db: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """Another customer of the pool spent the window and waits for the next one whole: this source's first call
    is told its turn is two windows away, far beyond what a call waits. The venue is fine: no request goes out,
    no failure, no hold and no breaker; the sync is skipped and rescheduled for its turn."""
    account = await add_binance({"BTC": "1"})
    with tenant.postgres.connect(DATABASE) as admin:
        pool = admin.execute(
            "SELECT pool FROM egress_budget.sharer WHERE role_name = %s", (tenant.names.app_role,)
        ).fetchone()
    assert pool is not None
    other = create_tenant(tenant.postgres, migrate=False, egress_pool=str(pool[0]))
    budget = 400
    try:
        with venue_limit(tenant.postgres, "binance", budget, 3600):
            with tenant.postgres.connect(DATABASE) as admin:  # the key's check (its minute, its place) is long gone
                admin.execute("DELETE FROM egress_budget.venue_window WHERE pool = %s", (pool[0],))
                admin.execute("DELETE FROM egress_budget.place WHERE pool = %s", (pool[0],))
            with psycopg.connect(other.app_url, autocommit=True) as conn:
                ask = "SELECT wait_seconds FROM egress_budget.acquire('binance', %s)"
                assert conn.execute(ask, (budget,)).fetchone() == (0.0,)
                assert (conn.execute(ask, (budget,)).fetchone() or (0.0,))[0] > 0  # it waits, ahead in the queue
            engine = runtime_of(app).sync.engine
            skipped = sample("tallyhold_sync_skips_total", kind="exchange", reason="egress_budget_queue")
            seq = account.venue.last_seq()
            before = datetime.now(UTC)
            result = await engine.sync_connection(uuid.UUID(account.connection_id), Trigger.scheduled)
            assert (result.outcome, result.code) == (Outcome.skipped, "egress_budget_queue")
            assert result.next_attempt_at is not None
            assert result.next_attempt_at - before > timedelta(seconds=3600)  # after the next window, not before
            assert account.venue.requests(seq) == []
            assert sample("tallyhold_sync_skips_total", kind="exchange", reason="egress_budget_queue") == skipped + 1
            async with db() as session:
                assert await session.get(VenueBreaker, "binance") is None
            row = await connection_row(db, account.connection_id)
            assert (row.last_error, row.sync_lease_until) == (None, None)
    finally:
        drop_tenant(other)


async def test_a_key_that_gains_write_rights_is_quarantined(
    client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    account = await add_binance({"BTC": "2"})
    await sync_now(client)
    quarantines = sample("tallyhold_quarantines_total")
    rejected = sample("tallyhold_credentials_rejected_total", code="write_permissions")
    account.venue.set_permissions(account.api_key, ["read", "trade", "withdraw"])

    status = sources(await sync_now(client))
    source = status[account.connection_id]
    assert (source["state"], source["last_error"], source["stale"]) == ("quarantined", "write_permissions", True)
    assert sample("tallyhold_quarantines_total") == quarantines + 1
    assert sample("tallyhold_credentials_rejected_total", code="write_permissions") == rejected + 1
    connection = (await client.get(f"/v1/connections/{account.connection_id}")).json()
    assert connection["status"] == "quarantined"
    async with db() as session:
        actions = await session.scalars(
            select(AuditEvent.action).where(AuditEvent.connection_id == uuid.UUID(account.connection_id))
        )
        assert "connection.quarantined" in list(actions)
    items = (await client.get("/v1/balances")).json()["items"]
    assert [(i["asset"], i["amount"], i["stale"]) for i in items] == [("BTC", "2", True)], "last good, stale"

    seq = account.venue.last_seq()
    await sync_now(client)
    assert key_requests(account.venue, account.api_key, seq) == [], "a quarantined key is never used again"


async def test_permanent_errors_stop_scheduled_syncs_until_fixed(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    account = await add_binance({"SOL": "3"})
    await sync_now(client)
    account.venue.remove_key(account.api_key)  # revoked on the exchange's side
    status = sources(await sync_now(client))
    assert (status[account.connection_id]["state"], status[account.connection_id]["last_error"]) == (
        "error",
        "invalid_credentials",
    )
    engine = runtime_of(app).sync.engine
    seq = account.venue.last_seq()
    result = await engine.sync_connection(uuid.UUID(account.connection_id), Trigger.scheduled)
    assert (result.outcome, result.code) == (Outcome.skipped, "error")
    assert account.venue.requests(seq) == []
    assert await spot_amounts(db, account.connection_id) == {"SOL": "3"}


async def test_reruns_and_concurrent_runs_write_one_snapshot_per_window(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    add_binance: AddAccount,
    db: async_sessionmaker[AsyncSession],
) -> None:
    account = await add_binance({"BTC": "0.5", "USDT": "10"})
    frozen = datetime.now(UTC)
    builders = runtime_of(app).sync.engine.builders
    # Two engines are two processes (`serve` and `tallyhold sync --once`): separate limits, leases in common.
    egress = [EgressClient(egress_config(settings), mode="inprocess") for _ in range(2)]
    for client_ in egress:  # as serve and `sync --once` do: exchange calls spend the pool's shared budget
        client_.budget = SharedBudget(runtime_of(app).engine)
    engines = [
        SyncEngine(settings, runtime_of(app).session_maker, client_, builders, clock=lambda: frozen)
        for client_ in egress
    ]
    try:
        seq = account.venue.last_seq()
        together = await asyncio.gather(*(engine.sync_all(Trigger.manual) for engine in engines))
        outcomes = sorted(r.outcome.value for report in together for r in report.results)
        assert outcomes in (["skipped", "success"], ["success", "success"])
        balance_reads = [p for p in key_requests(account.venue, account.api_key, seq) if p == "GET /api/v3/account"]
        assert len(balance_reads) == outcomes.count("success")
        for _ in range(2):
            assert [r.outcome for r in (await engines[0].sync_all()).results] == [Outcome.success]
        account.set_spot({"BTC": "0.75"})
        assert [r.outcome for r in (await engines[1].sync_all()).results] == [Outcome.success]
    finally:
        for engine in engines:
            await engine.aclose()
        for client_ in egress:
            await client_.aclose()

    window = window_start(frozen, settings.sync.interval_seconds)
    assert await snapshot_count(db, account.connection_id) == 1
    async with db() as session:
        snapshot = await session.get(ConnectionSnapshot, (uuid.UUID(account.connection_id), window))
        points = await session.scalar(
            select(func.count()).select_from(NetWorthSnapshot).where(NetWorthSnapshot.taken_at == window)
        )
    assert snapshot is not None
    assert [(h["asset"], h["amount"]) for h in snapshot.holdings] == [("BTC", "0.75")], "the newest in the window"
    assert points == 1
    assert await spot_amounts(db, account.connection_id) == {"BTC": "0.75"}
    total = Decimal((await client.get("/v1/networth")).json()["total"])
    assert total == Decimal("0.75") * 65000
    row = await connection_row(db, account.connection_id)
    assert row.sync_lease_until is None, "leases are released"
