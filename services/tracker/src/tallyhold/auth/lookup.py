"""The bearer-token row every API request is checked against: one prepared SELECT on a connection of its own.

Why not the request's ORM session: a session costs a pool checkout (with its pre-ping round trip), BEGIN, the
SELECT, COMMIT and the ORM's bookkeeping, about 2 ms of CPU per request, which was most of a cached
`/v1/networth` answer's cost and queued behind a running sync on the same cores (bench/bench_api.py). Here it
is one round trip: the statement is prepared once per connection and runs in autocommit, so there is no
transaction to begin or end.

Exactness: nothing is remembered between requests. Each lookup is a statement of its own, and in READ
COMMITTED a statement sees every transaction that committed before it started, whichever process committed it
(this instance, `tallyhold token revoke`, the provisioner's `revoke-token`). A revocation or expiry that has
returned is therefore honoured by the very next request, and a lookup that cannot reach the database refuses
the request (503): it never falls back to a remembered answer.

Connections: up to `connections` (the API's `DB_POOL_SIZE`), opened on demand (an idle instance holds none;
one idle for `IDLE_SECONDS` is closed), in a psycopg pool of their own, so that one slow round trip (Postgres
starved of CPU while a sync runs) does not hold every other request's check behind it. A connection that fails
(Postgres restarted, the backend ended, a migration changed the table under the prepared statement) is dropped
and the check retried on another; when none answers within `WAIT_SECONDS` the request is refused.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import URL

from tallyhold.db import schema_connect_args
from tallyhold.errors import ServiceUnavailable
from tallyhold.models import AccessToken

logger = logging.getLogger("tallyhold.auth")
_ROW = (
    "SELECT id, label, secret_hash, created_at, expires_at, last_used_at, revoked_at FROM access_tokens WHERE id = %s"
)


IDLE_SECONDS = 600.0
WAIT_SECONDS = 10.0


class TokenLookup:
    def __init__(
        self, url: URL, schema: str, application_name: str, *, connections: int, wait_seconds: float = WAIT_SECONDS
    ) -> None:
        # libpq's URL (SQLAlchemy's names its driver in the scheme), with the same search_path as the engine's.
        conninfo = make_conninfo(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            **schema_connect_args(schema, application_name),
        )
        self._connections = connections
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            conninfo,
            min_size=0,
            max_size=connections,
            max_idle=IDLE_SECONDS,
            timeout=wait_seconds,
            kwargs={"autocommit": True},
            open=False,
            name="token-lookup",
        )

    def __repr__(self) -> str:
        return "TokenLookup(conninfo='**********')"

    async def open(self) -> None:
        await self._pool.open()

    async def get(self, token_id: str) -> AccessToken | None:
        """The token's row as it is committed now, detached from any session; None when there is none."""
        row = await self._fetch_retrying(token_id)
        if row is None:
            return None
        id_, label, secret_hash, created_at, expires_at, last_used_at, revoked_at = row
        return AccessToken(
            id=id_,
            label=label,
            secret_hash=secret_hash,
            created_at=created_at,
            expires_at=expires_at,
            last_used_at=last_used_at,
            revoked_at=revoked_at,
        )

    async def _fetch_retrying(self, token_id: str) -> tuple[Any, ...] | None:
        # Each failure drops its connection (the pool discards a broken one): after a Postgres restart every
        # idle connection may be dead, so one more attempt than there can be of them. No connection at all
        # within the wait (PoolTimeout) is not retried.
        failure = "PoolTimeout"
        for _ in range(self._connections + 1):
            try:
                return await self._fetch(token_id)
            except PoolTimeout:
                break
            except psycopg.Error as failed:
                failure = type(failed).__name__
                logger.info("token_lookup_retrying", extra={"error_type": failure})
        logger.warning("token_lookup_failed", extra={"error_type": failure})
        raise ServiceUnavailable(code="database_unavailable")

    async def _fetch(self, token_id: str) -> tuple[Any, ...] | None:
        async with self._pool.connection() as connection:
            cursor = await connection.execute(_ROW, (token_id,), prepare=True)
            return await cursor.fetchone()

    async def aclose(self) -> None:
        await self._pool.close()
