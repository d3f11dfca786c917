"""A token's last-used time, written off the request's path.

Writing it in the request's own transaction would turn a read into a write (and its commit into a WAL flush the
client waits for). Instead, the request that finds the stored time older than `RESOLUTION` starts a background
write in a transaction of its own and goes on; the write happens at most once per token per `RESOLUTION`, and
one that fails (database briefly gone) is only logged: the next request a minute later tries again.

The write changes no answer a request is served, so the runtime has it count as background work
(`writes_as=portfolio.cache.background_writes`): otherwise its commit would make the next request recompute
the cached net worth in its own path, once a minute per token in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.auth.repository import AccessTokenRepository
from tallyhold.db import transaction
from tallyhold.models import AccessToken

logger = logging.getLogger("tallyhold.auth")
RESOLUTION = timedelta(minutes=1)


class LastUsedRecorder:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        writes_as: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._session_maker = session_maker
        self._writes_as = writes_as
        self._writing: set[str] = set()  # tokens whose write is under way: at most one each
        self._tasks: set[asyncio.Task[None]] = set()

    def seen(self, token: AccessToken) -> None:
        now = datetime.now(UTC)
        if token.last_used_at is not None and now - token.last_used_at <= RESOLUTION:
            return
        if token.id in self._writing:
            return
        self._writing.add(token.id)
        task = asyncio.get_running_loop().create_task(self._write(token.id, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, token_id: str, at: datetime) -> None:
        try:
            with self._writes_as():
                async with transaction(self._session_maker) as session:
                    await AccessTokenRepository(session).touch(token_id, at)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("token_last_used_not_written", extra={"error_type": type(exc).__name__})
        finally:
            self._writing.discard(token_id)

    async def aclose(self) -> None:
        """Waits for the writes under way (at shutdown, before the engine is disposed)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)
