"""The exchange budget shared by every instance behind one egress IP, as the exchange calls see it.

Venues such as Binance limit request weight per IP, and the instances of one host (or one NAT gateway) spend the
same budget; ccxt's own limiter only knows its process. So before each request to a venue that declares a
per-IP limit (`Adapter.ip_limit`), the call asks the budget for the request's weight and waits as long as it is
told; and a ban (418) or a 429 answer is reported so that every sharer holds back, not only the one that saw it.

The budget lives in the shared Postgres (schema `egress_budget`, reached only through two functions; the
provisioner creates it). The worker has no database access, so it asks the API process over its pipe
(`PipeBudget`); in-process dispatch asks the API side's `SharedBudget` directly. Either way the call site sees
the `Budget` protocol, found in a context variable. Only the venue name and a weight (and whether a customer waits
on the request) or a number of seconds go out; only a wait comes back.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Grant:
    """0 s: granted (and counted). Otherwise nothing was counted; ask again after `wait` seconds. `hold`: None
    when the window's budget is spent, else why the pool is held back ("rate_limited": a venue answered 429;
    "banned": 418), which the call reports as its own failure instead of waiting."""

    wait: float
    hold: str | None = None


HOLDS = frozenset({"rate_limited", "banned"})
# A call refused before it was sent, because the pool is held back (another instance's 429 or ban): the venue
# said nothing about this source, so the source gets no hold of its own; the venue's breaker holds it back.
POOL_HOLD = "pool_hold"
# A call refused before it was sent because its turn in the pool's queue is further off than a call waits: the
# venue is fine and said nothing, so no breaker opens; the source comes back when its turn is due.
POOL_QUEUE = "pool_queue"


class BudgetUnavailable(Exception):
    """The shared budget could not be asked (database down, role not enrolled, ...): calls wait, never burst."""

    code = "egress_budget_unavailable"


class Budget(Protocol):
    async def acquire(self, venue: str, weight: int, *, interactive: bool = False) -> Grant:
        """`interactive`: a customer waits on this request (a key check): the pool's lane may serve it ahead of
        the queue."""

    async def hold_back(self, venue: str, seconds: float, *, banned: bool) -> None:
        """Every sharer holds back `seconds`; `banned`: a ban (418), else a rate limit (429 with Retry-After)."""


CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("tallyhold_egress_budget", default=None)


class PipeBudget:
    """The worker's side: asks the API process, which owns the database session, over the egress pipe.

    worker → parent  {"budget": {"n": 3, "venue": "binance", "weight": 20, "interactive": false}}
    worker → parent  {"budget": {"n": 4, "venue": "binance", "hold_back": 120.0, "banned": true}}
    parent → worker  {"budget_reply": 3, "wait": 0.0, "hold": null}   or   {"budget_reply": 3, "error": "..."}
    """

    def __init__(self, write: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._write = write
        self._numbers = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._closed = False

    async def acquire(self, venue: str, weight: int, *, interactive: bool = False) -> Grant:
        reply = await self._ask({"venue": venue, "weight": weight, "interactive": interactive})
        hold = reply.get("hold")
        return Grant(wait=float(reply.get("wait") or 0.0), hold=hold if hold in HOLDS else None)

    async def hold_back(self, venue: str, seconds: float, *, banned: bool) -> None:
        await self._ask({"venue": venue, "hold_back": seconds, "banned": banned})

    async def _ask(self, question: dict[str, Any]) -> dict[str, Any]:
        if self._closed:
            raise BudgetUnavailable("egress_budget_unavailable")
        number = next(self._numbers)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        try:
            await self._write({"budget": {"n": number, **question}})
            reply = await future
        finally:
            self._waiting.pop(number, None)
        if "error" in reply:
            raise BudgetUnavailable(str(reply["error"]))
        return reply

    def answer(self, reply: dict[str, Any]) -> None:
        future = self._waiting.get(reply.get("budget_reply"))  # type: ignore[arg-type]  # any JSON value; a miss is None
        if future is not None and not future.done():
            future.set_result(reply)

    def close(self) -> None:
        """The parent is gone (stdin closed): whoever still waits for an answer gets none."""
        self._closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BudgetUnavailable("egress_budget_unavailable"))
