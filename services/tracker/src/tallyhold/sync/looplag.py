"""A probe of the API process's event loop: a 1 s timer whose lateness is `tallyhold_event_loop_lag_seconds`.
Everything of the instance (requests, the scheduler, sync bookkeeping) shares that loop; a lag there is
latency for every request.

A sample a second, not ten: each is a wake-up of an instance that may have nothing else to do, and a host runs
hundreds of them. A block of the loop shows when it covers a probe's due time, so a rare block shorter than a
second may go unseen; a loop that blocks often shows in every scrape interval."""

from __future__ import annotations

import asyncio
import contextlib
import time

from tallyhold.metrics import EVENT_LOOP_LAG

PERIOD_SECONDS = 1.0


async def _watch() -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(PERIOD_SECONDS)
        EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - started - PERIOD_SECONDS))


class LoopLagProbe:
    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(_watch(), name="tallyhold-loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
