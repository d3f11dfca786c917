"""The cache of computed /v1/networth and /v1/balances answers never serves a stale answer after a write of
this process, and serves one written by another process for at most PORTFOLIO_CACHE_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.portfolio import cache
from tallyhold.portfolio.cache import AnswerCache
from tallyhold.settings import Settings
from tests.fixtures.platform import DATABASE, Tenant


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings, process="test")
    yield create_session_maker(engine)
    await engine.dispose()


async def _manual(client: httpx.AsyncClient, asset: str, amount: str) -> str:
    response = await client.post("/v1/connections/manual", json={"label": asset, "asset": asset, "amount": amount})
    assert response.status_code == 201
    return str(response.json()["id"])


async def test_writes_of_this_process_are_seen_at_once(
    client: httpx.AsyncClient, settings: Settings, tenant: Tenant
) -> None:
    cash = await _manual(client, "USD", "100")
    assert (await client.get("/v1/networth")).json()["total"] == "100"
    assert (await client.patch(f"/v1/connections/{cash}", json={"amount": "150"})).status_code == 200
    assert (await client.get("/v1/networth")).json()["total"] == "150", "an API write"

    engine = create_engine(settings, process="test")
    try:
        async with transaction(create_session_maker(engine)) as session:
            await session.execute(text("UPDATE balances SET amount = 175"))
    finally:
        await engine.dispose()
    assert (await client.get("/v1/networth")).json()["total"] == "175", "any engine of this process"

    # Another process (a raw driver connection here) is only seen once the answer is old enough.
    before = cache.generation()
    with tenant.postgres.connect(DATABASE) as admin:
        admin.execute(f'UPDATE "{tenant.schema}".balances SET amount = 200')
    assert cache.generation() == before
    deadline = asyncio.get_running_loop().time() + settings.portfolio.cache_seconds + 5
    while (await client.get("/v1/networth")).json()["total"] != "200":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)


async def test_an_answer_computed_across_a_write_is_not_reused(db: async_sessionmaker[AsyncSession]) -> None:
    now = [0.0]
    answers = AnswerCache(2.0, db, clock=lambda: now[0])
    session = db()
    calls = 0

    async def compute(_: AsyncSession) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            cache.bump()  # a write commits while the first answer is being computed
        return calls

    assert await answers.get_or_compute("k", session, compute) == 1
    assert await answers.get_or_compute("k", session, compute) == 2, "computed before the write committed: not reused"
    assert await answers.get_or_compute("k", session, compute) == 2, "reused"
    now[0] = 2.5
    assert await answers.get_or_compute("k", session, compute) == 3, "too old"
    assert await AnswerCache(0).get_or_compute("k", session, compute) == 4, "0 turns the cache off"


async def test_concurrent_misses_share_one_computation_and_a_failure_is_not_shared(
    db: async_sessionmaker[AsyncSession],
) -> None:
    answers = AnswerCache(5.0, db)
    session = db()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def slow(_: AsyncSession) -> int:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return 42

    leader = asyncio.create_task(answers.get_or_compute("k", session, slow))
    await started.wait()
    followers = [asyncio.create_task(answers.get_or_compute("k", session, slow)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(leader, *followers) == [42] * 6
    assert calls == 1

    cache.bump()
    started.clear()
    release.clear()

    async def failing(_: AsyncSession) -> int:
        started.set()
        await release.wait()
        raise RuntimeError("the leader's query failed")

    async def fine(_: AsyncSession) -> int:
        return 7

    leader = asyncio.create_task(answers.get_or_compute("k", session, failing))
    await started.wait()
    follower = asyncio.create_task(answers.get_or_compute("k", session, fine))
    await asyncio.sleep(0)
    release.set()
    with contextlib.suppress(RuntimeError):
        await leader
    assert await follower == 7, "a follower of a failed computation computes its own answer"
