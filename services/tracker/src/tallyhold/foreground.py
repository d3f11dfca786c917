"""Requests first: the instance's background database work waits while requests are being answered.

An instance serves requests and runs its syncs on one event loop. A sync's own work is Python between database
statements: reading a result into objects, deciding, building the next statement (about 25 ms of CPU per source,
in steps of a millisecond or two). A request that arrives while such steps are ready to run waits for all of them
before its own turn, and a sync of several sources at once has several ready at a time: that queue, not the
request's own work, is what made answers slower while syncs ran (bench/bench_api.py).

So every statement of the background pool (syncs, prices, retention, answer refreshes) passes a gate before it
is sent and again once its result is in, before the result is read: while requests are in flight, the step
waits until none is, for at most `MAX_WAIT_SECONDS`. A request then waits for the one step that was running when
it came, not for a queue of them. The bound keeps background work going under a load that never pauses, and
bounds the wait of a request that itself waits for a row lock held by a waiting transaction.

Only the order of work changes: every statement still runs, in the same transaction, in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only
from starlette.types import ASGIApp, Receive, Scope, Send

# An execution option: statements run with it set to False never wait (a question that may be a request's own,
# such as the shared exchange budget's while a key is verified: it would wait for itself).
REQUESTS_FIRST = "requests_first"
# Longest a background step waits for requests to finish. Longer than a request's usual time (a few ms), so that
# one request is served before the step goes on; short enough that a sync's ~40 statements lose at most a few
# seconds to a load with no pause at all, far within a source's deadline and lease.
MAX_WAIT_SECONDS = 0.05


class Foreground:
    """The requests in flight in this process's event loop, and the wait for none to be."""

    def __init__(self, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self.max_wait = max_wait
        self.in_flight = 0
        self._waiters: list[asyncio.Future[None]] = []

    def started(self) -> None:
        self.in_flight += 1

    def finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def quiet(self) -> None:
        """Returns at once when no request is in flight; otherwise when none is, or after `max_wait`."""
        if self.in_flight == 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, self.max_wait)
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)


def yield_to(foreground: Foreground, engine: AsyncEngine) -> None:
    """Makes every statement of `engine` (a pool of background work) wait for `foreground` before it is sent and
    after its result is in, unless it runs with the execution option `REQUESTS_FIRST` set to False."""

    def gate(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if foreground.in_flight and (context is None or context.execution_options.get(REQUESTS_FIRST, True)):
            # Events of an AsyncEngine run inside SQLAlchemy's greenlet, where `await_only` awaits on the loop.
            await_only(foreground.quiet())

    event.listen(engine.sync_engine, "before_cursor_execute", gate)
    event.listen(engine.sync_engine, "after_cursor_execute", gate)


class CountInFlight:
    """ASGI middleware: every HTTP request is in flight from the moment the app sees it until its answer is sent."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app = app
        self.foreground = foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.foreground.started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.foreground.finished()
