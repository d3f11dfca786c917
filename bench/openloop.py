"""The benches' open-loop load: request i is due at `start + i / rate`, its latency counts from that due time
(a stalled server cannot hide its queue: no coordinated omission), and its task is made when it is due.

Not every task at the start: a thousand tasks made at once cost the load generator tens of milliseconds of CPU
right when the first requests were due, and those milliseconds counted as the server's latency.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any


async def open_loop(
    rate: float,
    total: int,
    send: Callable[[int, float], Coroutine[Any, Any, None]],
    *,
    lead: float = 0.05,
    abort: threading.Event | None = None,
) -> float:
    """Calls `send(index, due)` for every request when it is due (`due` in `time.perf_counter()` seconds), waits
    for all of them and returns the seconds from the first due time to the last answer. `abort`: stop sending."""
    start = time.perf_counter() + lead
    sent: list[asyncio.Task[None]] = []
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if abort is not None and abort.is_set():
            break
        sent.append(asyncio.create_task(send(index, due)))
    await asyncio.gather(*sent)
    return time.perf_counter() - start
