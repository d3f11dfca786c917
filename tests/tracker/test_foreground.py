"""Requests first: a statement of a gated (background) pool waits while requests are in flight, never for longer
than the bound, and never at all on a pool that is not gated; the middleware counts every request, failed ones
too. Real Postgres; the order of events is checked, never a duration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Receive, Scope, Send

from tallyhold.db import create_engine
from tallyhold.foreground import REQUESTS_FIRST, CountInFlight, Foreground, yield_to
from tallyhold.settings import Settings


@pytest_asyncio.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, process="test")
    yield engine
    await engine.dispose()


def statements_sent(engine: AsyncEngine) -> list[str]:
    """Statements of `engine` that reached the server (listened after any gate, so they passed it)."""
    sent: list[str] = []
    event.listen(engine.sync_engine, "after_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


async def select_one(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT 1"))).scalar_one())


async def test_nothing_waits_without_requests() -> None:
    foreground = Foreground(max_wait=3600)
    await asyncio.wait_for(foreground.quiet(), 5)


async def test_a_background_statement_waits_for_the_requests_in_flight(engine: AsyncEngine) -> None:
    foreground = Foreground(max_wait=3600)
    await select_one(engine)  # a pooled connection: what follows is the statement alone
    yield_to(foreground, engine)
    sent = statements_sent(engine)
    foreground.started()
    foreground.started()
    query = asyncio.create_task(select_one(engine))
    await asyncio.sleep(0.5)
    assert sent == [], "sent while two requests were in flight"
    assert not query.done()
    foreground.finished()
    await asyncio.sleep(0.5)
    assert sent == [], "sent while a request was in flight"
    assert not query.done()
    foreground.finished()
    assert await asyncio.wait_for(query, 30) == 1
    assert sent == ["SELECT 1"]


async def test_a_result_is_not_read_while_requests_are_in_flight(engine: AsyncEngine) -> None:
    """The gate after the statement: the Python that reads a result waits too."""
    foreground = Foreground(max_wait=3600)
    yield_to(foreground, engine)
    in_flight_when_read: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def request_arrives(*_: object) -> None:
        foreground.started()  # after the first gate, while the statement is on its way to the server

    async def read_after_a_request_came() -> None:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT 1"))
            in_flight_when_read.append(foreground.in_flight)
            assert result.scalar_one() == 1

    reading = asyncio.create_task(read_after_a_request_came())
    await asyncio.sleep(0.5)
    assert not reading.done(), "the result was read while a request was in flight"
    foreground.finished()
    await asyncio.wait_for(reading, 30)
    assert in_flight_when_read == [0]


async def test_the_wait_is_bounded(engine: AsyncEngine) -> None:
    foreground = Foreground(max_wait=0.05)
    yield_to(foreground, engine)
    foreground.started()  # never finishes
    assert await asyncio.wait_for(select_one(engine), 30) == 1
    assert foreground.in_flight == 1


async def test_a_statement_may_be_let_through(engine: AsyncEngine) -> None:
    """The shared exchange budget's questions may be a request's own (a key's verification): they never wait."""
    foreground = Foreground(max_wait=3600)
    yield_to(foreground, engine)
    foreground.started()
    try:
        async with engine.connect() as connection:
            let_through = await connection.execution_options(**{REQUESTS_FIRST: False})
            assert (await asyncio.wait_for(let_through.execute(text("SELECT 1")), 30)).scalar_one() == 1
    finally:
        foreground.finished()


async def test_a_pool_without_the_gate_never_waits(engine: AsyncEngine, settings: Settings) -> None:
    """The API's own pool is not gated: a request's statements never wait for requests (itself among them)."""
    foreground = Foreground(max_wait=3600)
    gated = create_engine(settings, process="test-background")
    try:
        yield_to(foreground, gated)
        foreground.started()
        assert await asyncio.wait_for(select_one(engine), 30) == 1
    finally:
        foreground.finished()
        await gated.dispose()


async def test_every_request_is_counted_until_its_answer_is_sent() -> None:
    foreground = Foreground()
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(foreground.in_flight)
        if scope["path"] == "/boom":
            raise RuntimeError("a route's bug")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    transport = httpx.ASGITransport(app=CountInFlight(app, foreground))
    async with httpx.AsyncClient(transport=transport, base_url="http://instance.test") as client:
        assert (await client.get("/")).status_code == 200
        with pytest.raises(RuntimeError):
            await client.get("/boom")
        both = await asyncio.gather(client.get("/"), client.get("/"))
    assert [r.status_code for r in both] == [200, 200]
    assert seen[:2] == [1, 1]
    assert set(seen[2:]) <= {1, 2}
    assert foreground.in_flight == 0
