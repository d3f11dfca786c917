"""Answers while background work writes: a sync's commits never make a request wait for a recomputation, every
answer is one committed state of the database (never half of a source's transaction), and a run reported
finished is in the next answer. Real instance, real sync engine, sandbox venues."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.db import transaction
from tallyhold.models import AccessToken
from tallyhold.portfolio import cache
from tallyhold.portfolio.cache import AnswerCache
from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import fast_egress, runtime_of, sandbox_settings, sync_now, wait_idle
from tests.fixtures.platform import Tenant
from tests.fixtures.vault import VaultTenant
from tests.tracker.sync.helpers import AddAccount

BEFORE = {"USDT": "100", "ETH": "1"}
AFTER = {"USDT": "1000", "ETH": "2"}


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # Answers never expire by age here: every recomputation a request waits for is one a write asked for.
    # Venue timeouts are generous: nothing here tests them, and a loaded machine must not fail a sync.
    egress = fast_egress(timeout=30.0, deadline=40)
    return sandbox_settings(
        tenant, vault_tenant, sandbox, PORTFOLIO_CACHE_SECONDS=60, EGRESS_OPTIONS=egress, SYNC_TIMEOUT_SECONDS=45
    )


def computed(path: str) -> float:
    return REGISTRY.get_sample_value("tallyhold_portfolio_answers_computed_total", {"path": path}) or 0.0


async def _points(session: AsyncSession) -> int:
    return int((await session.execute(text("SELECT count(*) FROM networth_snapshots"))).scalar_one())


async def _add_point(db: async_sessionmaker[AsyncSession], minute: int) -> None:
    async with transaction(db) as session:
        await session.execute(
            text(
                "INSERT INTO networth_snapshots (taken_at, quote, total, resolution) "
                "VALUES (timestamptz '2026-01-01 00:00+00' + make_interval(mins => :m), 'USD', 1, 'raw')"
            ),
            {"m": minute},
        )


async def test_background_commits_are_refreshed_off_the_request_path_and_coalesced(
    clean_tenant: None, db: async_sessionmaker[AsyncSession]
) -> None:
    # A refresher that waits an hour between passes: only `settle()` refreshes after the first pass.
    now = [0.0]
    answers = AnswerCache(60, db, clock=lambda: now[0], refresh_spacing=3600)
    session = db()
    try:
        assert await answers.get_or_compute("points", session, _points) == 0
        requests, refreshes = computed("request"), computed("refresh")

        with cache.background_writes():
            async with transaction(db) as writing:
                await writing.execute(
                    text(
                        "INSERT INTO networth_snapshots (taken_at, quote, total, resolution) "
                        "VALUES (now(), 'USD', 1, 'raw')"
                    )
                )
                assert await answers.get_or_compute("points", session, _points) == 0, "not committed yet"
        assert await answers.get_or_compute("points", session, _points) == 0, "the last complete answer, at once"
        await cache.settle()
        assert await answers.get_or_compute("points", session, _points) == 1, "refreshed"
        assert computed("request") == requests, "no request waited for a computation"
        assert computed("refresh") == refreshes + 1

        with cache.background_writes():
            for minute in range(20):
                await _add_point(db, minute)
        assert await answers.get_or_compute("points", session, _points) == 1
        await cache.settle()
        assert await answers.get_or_compute("points", session, _points) == 21
        assert computed("refresh") == refreshes + 2, "twenty background commits, one computation"
        assert computed("request") == requests

        await _add_point(db, 100)  # not background work: like an API write, the next answer must show it
        assert await answers.get_or_compute("points", session, _points) == 22
        assert computed("request") == requests + 1

        # Well before max_age nothing is refreshed: nothing this process knows of changed.
        now[0] = 40.0
        assert await answers.get_or_compute("points", session, _points) == 22
        await cache.settle()
        assert computed("refresh") == refreshes + 2
        # Within REFRESH_AHEAD of max_age, a steadily read answer is refreshed ahead of its expiry, off the
        # request path.
        now[0] = 60.0 - cache.REFRESH_AHEAD + 1
        assert await answers.get_or_compute("points", session, _points) == 22
        await cache.settle()
        assert computed("refresh") == refreshes + 3
        assert computed("request") == requests + 1

        # Read 19 s ago: refreshed after a background commit.
        now[0] += 19
        with cache.background_writes():
            await _add_point(db, 101)
        await cache.settle()
        assert computed("refresh") == refreshes + 4
        # An answer nobody read within max_age is forgotten rather than refreshed: the next request computes it.
        now[0] += 45
        with cache.background_writes():
            await _add_point(db, 102)
        await cache.settle()
        assert computed("refresh") == refreshes + 4
        assert await answers.get_or_compute("points", session, _points) == 24
        assert computed("request") == requests + 2
    finally:
        await answers.aclose()
        await session.close()


async def test_a_short_lived_answer_is_refreshed_at_half_its_age(
    clean_tenant: None, db: async_sessionmaker[AsyncSession]
) -> None:
    """Under twice REFRESH_AHEAD, ahead means half of max_age (never "always due")."""
    now = [0.0]
    max_age = cache.REFRESH_AHEAD
    answers = AnswerCache(max_age, db, clock=lambda: now[0], refresh_spacing=3600)
    session = db()
    try:
        await answers.get_or_compute("points", session, _points)
        refreshes = computed("refresh")
        for at, expected in ((max_age / 2 - 0.1, refreshes), (max_age / 2, refreshes + 1)):
            now[0] = at
            await answers.get_or_compute("points", session, _points)
            await cache.settle()
            assert computed("refresh") == expected, at
    finally:
        await answers.aclose()
        await session.close()


async def test_background_commits_within_a_second_of_a_pass_share_the_next_one(
    clean_tenant: None, db: async_sessionmaker[AsyncSession]
) -> None:
    """Refresh passes are a second apart (cache.REFRESH_SPACING), on the cache's own clock: a sync's commits half
    a second after a pass wait for the next pass, and share it, instead of costing one pass each."""
    now = [0.0]
    slept: list[float] = []
    woken = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await woken.wait()
        now[0] += seconds

    answers = AnswerCache(60, db, clock=lambda: now[0], sleep=sleep)
    session = db()
    try:
        assert await answers.get_or_compute("points", session, _points) == 0
        await answers.refresh_now()  # a pass at 0 s (nothing to do)
        refreshes = computed("refresh")
        now[0] = 0.5
        with cache.background_writes():
            for minute in range(3):
                await _add_point(db, minute)
        assert slept == [0.5], "the refresher waits until a second after the last pass"
        assert computed("refresh") == refreshes
        assert await answers.get_or_compute("points", session, _points) == 0, "the last complete answer meanwhile"
        woken.set()
        for _ in range(2000):  # the pass runs once its wait is over
            if computed("refresh") > refreshes:
                break
            await asyncio.sleep(0.005)
        assert computed("refresh") == refreshes + 1, "three background commits, one pass"
        assert await answers.get_or_compute("points", session, _points) == 3
    finally:
        await answers.aclose()
        await session.close()


async def _token_touched(db: async_sessionmaker[AsyncSession]) -> None:
    """The token's last-used time is written once a minute by a request (an API write): let it happen first."""
    deadline = time.monotonic() + 30
    while True:
        async with db() as session:
            if await session.scalar(select(func.count()).where(AccessToken.last_used_at.is_not(None))):
                return
        assert time.monotonic() < deadline, "the token's last use was never recorded"
        await asyncio.sleep(0.05)


def _pairs(balances: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """(USDT, ETH) amounts of each connection."""
    found: dict[str, dict[str, str]] = {}
    for item in balances["items"]:
        found.setdefault(item["connection_id"], {})[item["asset"]] = item["amount"]
    return {connection: (assets["USDT"], assets["ETH"]) for connection, assets in found.items()}


async def test_a_sync_run_never_makes_a_request_wait_and_answers_are_committed_states(
    client: httpx.AsyncClient, add_binance: AddAccount, db: async_sessionmaker[AsyncSession]
) -> None:
    accounts = [await add_binance(BEFORE, label=f"Account {i}") for i in range(4)]
    await sync_now(client)
    assert (await client.get("/v1/networth")).status_code == 200
    await _token_touched(db)
    for account in accounts:
        account.set_spot(AFTER)
    seen_before = (await client.get("/v1/balances", params={"group_by": "connection"})).json()
    assert set(_pairs(seen_before).values()) == {("100", "1")}
    requests, refreshes = computed("request"), computed("refresh")

    assert (await client.post("/v1/sync")).status_code == 202
    answers = 0
    while (await client.get("/v1/sync/status")).json()["running"]:
        pairs = _pairs((await client.get("/v1/balances", params={"group_by": "connection"})).json())
        # Each source's balances change in one transaction: both assets old, or both new, never one of each.
        assert set(pairs.values()) <= {("100", "1"), ("1000", "2")}, pairs
        assert (await client.get("/v1/networth")).status_code == 200
        answers += 2
    await wait_idle(client)

    assert computed("request") == requests, f"{answers} answers during the run, none waited for a computation"
    assert computed("refresh") > refreshes
    # The run is reported finished: the very next answers show all of it.
    after = (await client.get("/v1/balances", params={"group_by": "connection"})).json()
    assert set(_pairs(after).values()) == {("1000", "2")}
    by_asset = {a["asset"]: Decimal(a["amount"]) for a in (await client.get("/v1/networth")).json()["by_asset"]}
    assert by_asset == {"USDT": Decimal(4000), "ETH": Decimal(8)}


async def test_a_sync_lets_the_requests_in_flight_go_first(
    app: FastAPI, client: httpx.AsyncClient, add_binance: AddAccount
) -> None:
    """The sync's statements (its own pool) wait while a request is in flight; requests are never held by it."""
    await add_binance(BEFORE)
    runtime = runtime_of(app)
    foreground = runtime.foreground
    assert foreground is not None
    background = runtime.sync.engine.session_maker.kw["bind"]
    sent: list[str] = []
    event.listen(background.sync_engine, "after_cursor_execute", lambda *args: sent.append(args[2]))
    foreground.max_wait = 3600.0
    foreground.started()  # a request in flight, as far as the background work can tell
    try:
        run = asyncio.create_task(runtime.sync.engine.sync_all())
        await asyncio.sleep(1.0)
        assert sent == [], "the sync sent statements while a request was in flight"
        assert not run.done()
        # Requests go on meanwhile, reads and writes, on the API's own pool.
        assert (await client.get("/v1/networth")).status_code == 200
        cash = {"label": "Cash", "asset": "USD", "amount": "5"}
        assert (await client.post("/v1/connections/manual", json=cash)).status_code == 201
        assert sent == []
        assert not run.done()
    finally:
        foreground.finished()
    report = await asyncio.wait_for(run, 60)
    assert [result.outcome.value for result in report.results] == ["success"]
    assert sent, "the sync ran once no request was in flight"
