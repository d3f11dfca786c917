"""A short-lived cache of computed portfolio answers (`/v1/networth`, `/v1/balances`), correct by construction
for every write this process makes.

Computing net worth costs a few milliseconds of CPU (one query, then valuation in Python); at hundreds of
requests per second that is most of a core. Answers are therefore reused while nothing has changed:

- Every database transaction of this process that wrote (INSERT/UPDATE/DELETE/TRUNCATE through any SQLAlchemy
  engine: the API's writes, the sync engine, prices, retention) bumps a process-wide generation when it
  commits (and again once the COMMIT is done), before the response that made it is sent; an answer
  computed under an older generation is never served again.
- Writes by other processes (`tallyhold sync --once`, an operator's psql) and the passing of time (staleness
  flags) are covered by `max_age`: an answer is at most PORTFOLIO_CACHE_SECONDS old.

An answer is stored under the generation seen when its computation *started*, so a write that commits while
it is being computed makes it stale at once.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import Pool

T = TypeVar("T")
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "MERGE", "WITH")  # WITH: a CTE may write; a spare bump is harmless
_state = {"generation": 0}


def generation() -> int:
    return _state["generation"]


def bump() -> None:
    _state["generation"] += 1


# Connections whose current transaction wrote. Kept apart from `conn.info`, which raises on a connection that
# a dead server invalidated (exactly when a rollback event fires).
_wrote: weakref.WeakSet[Connection] = weakref.WeakSet()


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if statement.lstrip()[:8].upper().startswith(_WRITES):
        _wrote.add(conn)


# DBAPI connections (by id) whose writing transaction is committing. SQLAlchemy's commit event fires before
# the COMMIT reaches the server, so a reader starting in between would cache the old data under the new
# generation: the connection's return to the pool (after the COMMIT) bumps the generation once more.
_committing: set[int] = set()


@event.listens_for(Engine, "commit")
def _committed(conn: Connection) -> None:
    if conn in _wrote:
        _wrote.discard(conn)
        bump()
        try:
            _committing.add(id(conn.connection.dbapi_connection))
        except SQLAlchemyError:  # an invalidated connection: its transaction is gone, nothing to wait for
            return


@event.listens_for(Pool, "checkin")
def _returned(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is not None and id(dbapi_connection) in _committing:
        _committing.discard(id(dbapi_connection))
        bump()


@event.listens_for(Engine, "rollback")
def _rolled_back(conn: Connection) -> None:
    _wrote.discard(conn)


class AnswerCache:
    def __init__(self, max_age_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age_seconds
        self.clock = clock
        self._entries: dict[Hashable, tuple[int, float, Any]] = {}
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if self.max_age <= 0:
            return await compute()
        now = self.clock()
        current = generation()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == current and now - entry[1] < self.max_age:
            value: T = entry[2]
            return value
        # One computation per key and generation: after a write, the requests that arrive while the answer is
        # being recomputed wait for it instead of each running the query (a herd that queues on the pool).
        flight = self._flights.get(key)
        if flight is not None and flight[0] == current:
            try:
                shared: T = await asyncio.shield(flight[1])
            except asyncio.CancelledError:
                if not flight[1].cancelled():
                    raise  # this request itself was cancelled
                return await compute()  # the computation it waited for failed: its own, uncached
            return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[key] = (current, future)
        try:
            value = await compute()
        except BaseException:
            future.cancel()  # waiters compute for themselves
            raise
        finally:
            if self._flights.get(key, (0, None))[1] is future:
                del self._flights[key]
        future.set_result(value)
        self._entries[key] = (current, now, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
