"""The exchange budget shared by every instance behind one egress IP, as the exchange calls see it.

Venues such as Binance limit request weight per IP, and the instances of one host (or one NAT gateway) spend the
same budget; ccxt's own limiter only knows its process. So before each request to a venue that declares a
per-IP limit (`Adapter.ip_limit`), the call asks the budget for the request's weight and waits as long as it is
told; and a ban (418) or a 429 answer is reported so that every sharer holds back, not only the one that saw it.

The budget lives in the shared Postgres (schema `egress_budget`, reached only through two functions; the
provisioner creates it). The worker has no database access, so it asks the API process over its pipe
(`PipeBudget`); in-process dispatch asks the API side's `SharedBudget` directly. Either way the call site sees
the `Budget` protocol, found in a context variable. Only the venue name and a weight or a number of seconds go
out; only a wait comes back.
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
    """0 s: granted (and counted). Otherwise nothing was counted; ask again after `wait` seconds."""

    wait: float
    banned: bool = False


class BudgetUnavailable(Exception):
    """The shared budget could not be asked (database down, role not enrolled, ...): calls wait, never burst."""

    code = "egress_budget_unavailable"


class Budget(Protocol):
    async def acquire(self, venue: str, weight: int) -> Grant: ...

    async def hold_back(self, venue: str, seconds: float) -> None: ...


CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("tallyhold_egress_budget", default=None)


class PipeBudget:
    """The worker's side: asks the API process, which owns the database session, over the egress pipe.

    worker → parent  {"budget": {"n": 3, "venue": "binance", "weight": 20}}
    worker → parent  {"budget": {"n": 4, "venue": "binance", "hold_back": 120.0}}
    parent → worker  {"budget_reply": 3, "wait": 0.0, "banned": false}   or   {"budget_reply": 3, "error": "..."}
    """

    def __init__(self, write: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self._write = write
        self._numbers = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._closed = False

    async def acquire(self, venue: str, weight: int) -> Grant:
        reply = await self._ask({"venue": venue, "weight": weight})
        return Grant(wait=float(reply.get("wait") or 0.0), banned=bool(reply.get("banned")))

    async def hold_back(self, venue: str, seconds: float) -> None:
        await self._ask({"venue": venue, "hold_back": seconds})

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
