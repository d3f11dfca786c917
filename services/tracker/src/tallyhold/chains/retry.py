"""Retries with exponential backoff and full jitter, honouring a server's Retry-After (egress worker)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tallyhold.egress.protocol import EgressError

T = TypeVar("T")
logger = logging.getLogger("tallyhold.chains")


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    retries: int,
    base: float,
    cap: float,
    what: str,
) -> T:
    """Runs `attempt` until it succeeds, raises a permanent `EgressError`, or `retries` retries are used up
    (then the last transient error is raised). `attempt` translates library errors into `EgressError`s."""
    for number in range(retries + 1):
        try:
            return await attempt()
        except EgressError as exc:
            if not exc.transient or number == retries:
                raise
            delay = random.uniform(0, min(cap, base * 2**number))
            if exc.failure.retry_after is not None:
                delay = max(delay, min(exc.failure.retry_after, cap))
            logger.info("chain request failed, retrying", extra={"what": what, "code": exc.code, "attempt": number + 1})
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns or raises
