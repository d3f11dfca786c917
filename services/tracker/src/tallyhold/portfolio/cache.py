"""Computed portfolio answers (`/v1/networth`, `/v1/balances`, the dashboard), each an exact picture of one
committed state of the database, reused while nothing they depend on has changed.

Computing net worth costs a few milliseconds of CPU (one query, then valuation in Python); at hundreds of
requests per second that is most of a core, so answers are reused. Every database transaction of this process
that wrote (INSERT/UPDATE/DELETE/TRUNCATE through any SQLAlchemy engine) bumps a process-wide generation when it
commits, and again once the COMMIT is done, before the response that made it is sent. What happens next depends
on who wrote:

- **A request, or anything outside background work** (an API write, a CLI command): the *immediate*
  generation. An answer computed under an older one is never served again: the next request waits for one
  computation that sees the write (read your own writes).
- **Background work of this process** (syncs, prices, retention: code run inside `background_writes()`): the
  *background* generation. Requests keep getting the last complete answer at once while a refresh recomputes it
  off the request path. Refreshes are coalesced: one pass at a time, at most one every `REFRESH_SPACING`
  seconds, so a sync run that commits ten sources (~35 write transactions) costs a few computations, not one
  per commit, and no request waits for them. An answer therefore lags a background commit by at most
  `REFRESH_SPACING` plus one computation; `settle()` (the end of a run of every source) refreshes at once, so a
  run reported finished is in the next answer.
- **Other processes** (`tallyhold sync --once`, an operator's psql) and the passing of time (staleness flags):
  `max_age`, an answer is never older than PORTFOLIO_CACHE_SECONDS. One read in the last `max_age` is refreshed
  off the request path once it is within `REFRESH_AHEAD` of that age (half of it for a `max_age` under twice
  `REFRESH_AHEAD`), so an answer read at least that often never expires in a request's path; one nobody read
  within `max_age` is forgotten instead of refreshed. That refresh runs whether or not anything changed (only
  a computation sees another process's writes), so it is kept to one per `max_age - REFRESH_AHEAD`.

Every answer comes from one computation, whose query is one SQL statement (one snapshot of committed data), and
replaces the previous answer whole: no answer mixes two states. An answer is stored under the generations seen
when its computation *started*, so a write that commits while it is being computed makes it stale at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import Pool

from tallyhold import metrics

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
Compute = Callable[[AsyncSession], Awaitable[T]]
# A computation's session: the caller's own, or a session maker to open one only when there is something to
# compute (a route whose answer is reused then opens no session and no transaction at all).
SessionSource = AsyncSession | async_sessionmaker[AsyncSession]
logger = logging.getLogger("tallyhold.portfolio")
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "MERGE", "WITH")  # WITH: a CTE may write; a spare bump is harmless
# Shortest time between two refresh passes. A run of ten sources commits about 35 transactions over a few
# seconds, and each pass is a few milliseconds of CPU on the event loop that serves requests, which a request
# arriving meanwhile waits out: at most a pass a second while a sync runs (a few seconds a sync interval), not
# four, and a sync's commit reaches the answers within a second.
REFRESH_SPACING = 1.0
# How long before `max_age` a steadily read answer is refreshed: a reader that comes back at least this often
# never meets an expired answer, and the refresh costs one computation per `max_age - REFRESH_AHEAD` instead of
# one per half `max_age` (a computation every 25 s at the 30 s default, not every 15 s).
REFRESH_AHEAD = 5.0


@dataclass
class _Generations:
    immediate: int = 0
    background: int = 0


_state = _Generations()
_background = contextvars.ContextVar("tallyhold_background_writes", default=False)
# Every live cache of the process, so that a background commit (seen in a database event, which knows no cache)
# and `settle()` reach them.
_caches: weakref.WeakSet[AnswerCache] = weakref.WeakSet()


def generation() -> int:
    return _state.immediate


def background_generation() -> int:
    return _state.background


def bump(*, background: bool = False) -> None:
    if not background:
        _state.immediate += 1
        return
    _state.background += 1
    for cache in list(_caches):
        cache.schedule_refresh()


@contextlib.contextmanager
def background_writes() -> Iterator[None]:
    """Marks the database writes made inside (in this task and the tasks it starts) as background work: cached
    answers are refreshed off the request path instead of being recomputed by the next request."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def background_work(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`background_writes()` around every call of a coroutine function (the sync engine's entry points)."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with background_writes():
            return await method(*args, **kwargs)

    return run


async def settle() -> None:
    """Brings every cached answer up to date with the background writes committed so far, before returning."""
    for cache in list(_caches):
        await cache.refresh_now()


# Connections whose current transaction wrote, and whether every write was background work. Kept apart from
# `conn.info`, which raises on a connection that a dead server invalidated (exactly when a rollback event fires).
_wrote: weakref.WeakKeyDictionary[Connection, bool] = weakref.WeakKeyDictionary()


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if statement.lstrip()[:8].upper().startswith(_WRITES):
        # SQLAlchemy runs the driver in a greenlet that carries the calling task's context variables.
        _wrote[conn] = _wrote.get(conn, True) and _background.get()


# DBAPI connections (by id) whose writing transaction is committing, and whether it was background work.
# SQLAlchemy's commit event fires before the COMMIT reaches the server, so a reader starting in between would
# cache the old data under the new generation: the connection's return to the pool (after the COMMIT) bumps the
# generation once more.
_committing: dict[int, bool] = {}


@event.listens_for(Engine, "commit")
def _committed(conn: Connection) -> None:
    background = _wrote.pop(conn, None)
    if background is None:
        return
    try:
        _committing[id(conn.connection.dbapi_connection)] = background
    except SQLAlchemyError:  # an invalidated connection: its transaction is gone, nothing to wait for
        bump(background=background)
        return
    if not background:
        bump()
    # A background commit only bumps once the COMMIT is done: a refresh it starts must see the new data.


@event.listens_for(Pool, "checkin")
def _returned(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is not None:
        background = _committing.pop(id(dbapi_connection), None)
        if background is not None:
            bump(background=background)


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: Connection) -> None:
    _wrote.pop(conn, None)


@dataclass
class _Entry:
    value: Any
    compute: Compute[Any]
    ticket: int  # order in which computations started: a later one never gives way to an earlier one
    started: float
    immediate: int
    background: int
    read_at: float | None  # last served to a reader that accepts background lag: worth refreshing while recent


class AnswerCache:
    def __init__(
        self,
        max_age_seconds: float,
        session_maker: async_sessionmaker[AsyncSession] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        refresh_spacing: float = REFRESH_SPACING,
    ) -> None:
        """`session_maker` opens the sessions of refreshes; without one, background writes invalidate answers
        like any other write. `sleep` waits seconds of `clock` (the spacing between refresh passes)."""
        self.max_age = max_age_seconds
        self.session_maker = session_maker
        self.clock = clock
        self.sleep = sleep
        self.refresh_spacing = refresh_spacing
        self._entries: dict[Hashable, _Entry] = {}
        self._flights: dict[Hashable, tuple[tuple[int, int | None], asyncio.Future[Any]]] = {}
        self._tickets = itertools.count()
        self._refresher: asyncio.Task[None] | None = None
        self._last_pass = float("-inf")
        self._pass_lock = asyncio.Lock()
        _caches.add(self)

    def _due(self, entry: _Entry, now: float) -> bool:
        """Worth a refresh: background writes made it stale, or it is within `REFRESH_AHEAD` of `max_age`
        (refreshed ahead, so that a steadily read answer never expires in a request's path)."""
        ahead = min(REFRESH_AHEAD, self.max_age / 2)
        return entry.background != _state.background or now - entry.started >= self.max_age - ahead

    def _servable(self, entry: _Entry, now: float, wait_for_background: bool) -> bool:
        if entry.immediate != _state.immediate or now - entry.started >= self.max_age:
            return False
        if entry.background == _state.background:
            return True
        return not wait_for_background and self.session_maker is not None

    async def get_or_compute(
        self, key: Hashable, session: SessionSource, compute: Compute[T], *, wait_for_background: bool = False
    ) -> T:
        """The answer for `key`, computed with `compute(session)` when there is none to reuse (`session` may be
        a session maker: one is opened then, in a transaction of its own).
        `wait_for_background`: an answer that background writes made stale is recomputed for this request
        instead of being served while a refresh runs (for answers that show the sync's live state)."""
        if self.max_age <= 0:
            return await _run(compute, session)
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and self._servable(entry, now, wait_for_background):
            if not wait_for_background:
                entry.read_at = now
            if self._due(entry, now):
                self.schedule_refresh()
            value: T = entry.value
            return value
        # One computation per key and generation: after a write, the requests that arrive while the answer is
        # being recomputed wait for it instead of each running the query (a herd that queues on the pool).
        current = (_state.immediate, _state.background if wait_for_background else None)
        flight = self._flights.get(key)
        if flight is not None and flight[0] == current:
            try:
                shared: T = await asyncio.shield(flight[1])
            except asyncio.CancelledError:
                if not flight[1].cancelled():
                    raise  # this request itself was cancelled
                return await _run(compute, session)  # the computation it waited for failed: its own, uncached
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[key] = (current, future)
        try:
            value = await self._computed(key, compute, session, "request", None if wait_for_background else now)
        except BaseException:
            future.cancel()  # waiters compute for themselves
            raise
        finally:
            if key in self._flights and self._flights[key][1] is future:
                del self._flights[key]
        future.set_result(value)
        return value

    async def _computed(
        self, key: Hashable, compute: Compute[T], session: SessionSource, path: str, read_at: float | None
    ) -> T:
        ticket, started = next(self._tickets), self.clock()
        immediate, background = _state.immediate, _state.background
        value = await _run(compute, session)
        metrics.PORTFOLIO_ANSWERS_COMPUTED.labels(path).inc()
        stored = self._entries.get(key)
        if stored is not None and stored.read_at is not None:  # read while this was being computed
            read_at = max(read_at or stored.read_at, stored.read_at)
        if stored is None or stored.ticket < ticket:
            self._entries[key] = _Entry(value, compute, ticket, started, immediate, background, read_at)
        return value

    # -- refreshes off the request path ----------------------------------------------------------------

    def schedule_refresh(self) -> None:
        """Starts the refresher unless it is already waiting or running (called on every background commit)."""
        if self.session_maker is None or self.max_age <= 0:
            return
        if self._refresher is not None and not self._refresher.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a commit outside any event loop: the next request schedules it
            return
        self._refresher = loop.create_task(self._refresh_until_current(), name="tallyhold-answer-refresh")

    async def _refresh_until_current(self) -> None:
        try:
            while True:
                wait = self._last_pass + self.refresh_spacing - self.clock()
                if wait > 0:
                    await self.sleep(wait)
                if not await self._refresh_pass():
                    return
        except Exception as exc:  # never an unretrieved task error; the next background commit starts another
            logger.warning("answer_refresh_failed", extra={"error_type": type(exc).__name__})

    async def refresh_now(self) -> None:
        await self._refresh_pass()

    async def _refresh_pass(self) -> bool:
        """Recomputes every answer that is due (see `_due`) and was read within `max_age`. One nobody read that
        recently is forgotten once background writes made it stale or it expired (the next request computes
        it), and left alone otherwise. Returns whether it changed anything."""
        async with self._pass_lock:
            now = self._last_pass = self.clock()
            changed = False
            for key, entry in list(self._entries.items()):
                if entry.immediate != _state.immediate or not self._due(entry, now):
                    continue
                if entry.read_at is None or now - entry.read_at >= self.max_age or self.session_maker is None:
                    if entry.background != _state.background or now - entry.started >= self.max_age:
                        if self._entries.get(key) is entry:
                            del self._entries[key]
                        changed = True
                    continue
                try:
                    async with self.session_maker() as session:
                        await self._computed(key, entry.compute, session, "refresh", entry.read_at)
                except Exception as exc:  # the database is briefly gone: max_age bounds what is served meanwhile
                    logger.warning("answer_refresh_failed", extra={"error_type": type(exc).__name__})
                    return False
                changed = True
            return changed

    async def aclose(self) -> None:
        """Stops a refresher that is waiting or running (the entries stay)."""
        task, self._refresher = self._refresher, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def clear(self) -> None:
        self._entries.clear()


async def _run(compute: Compute[T], source: SessionSource) -> T:
    if isinstance(source, AsyncSession):
        return await compute(source)
    async with source() as session, session.begin():
        return await compute(session)
