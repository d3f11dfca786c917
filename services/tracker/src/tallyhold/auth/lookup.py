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

The connection is opened on the first request (an idle instance holds none), serves one lookup at a time (each
is a fraction of a millisecond), and is replaced once when it fails (Postgres restarted, a migration changed the
table under the prepared statement); a second failure is the request's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from tallyhold.db import schema_connect_args
from tallyhold.errors import ServiceUnavailable
from tallyhold.models import AccessToken

logger = logging.getLogger("tallyhold.auth")
_ROW = (
    "SELECT id, label, secret_hash, created_at, expires_at, last_used_at, revoked_at FROM access_tokens WHERE id = %s"
)


class TokenLookup:
    def __init__(self, url: URL, schema: str, application_name: str) -> None:
        # libpq's URL (SQLAlchemy's names its driver in the scheme), with the same search_path as the engine's.
        self._conninfo = make_conninfo(
            url.set(drivername="postgresql").render_as_string(hide_password=False),
            **schema_connect_args(schema, application_name),
        )
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return "TokenLookup(conninfo='**********')"

    async def get(self, token_id: str) -> AccessToken | None:
        """The token's row as it is committed now, detached from any session; None when there is none."""
        async with self._lock:
            try:
                row = await self._fetch_retrying(token_id)
            except asyncio.CancelledError:
                await self._discard()  # the statement may still be running: the connection cannot be reused
                raise
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
        try:
            return await self._fetch(token_id)
        except psycopg.Error as first:
            logger.info("token_lookup_reconnecting", extra={"error_type": type(first).__name__})
            await self._discard()
        try:
            return await self._fetch(token_id)
        except psycopg.Error as second:
            await self._discard()
            logger.warning("token_lookup_failed", extra={"error_type": type(second).__name__})
            raise ServiceUnavailable(code="database_unavailable") from None

    async def _fetch(self, token_id: str) -> tuple[Any, ...] | None:
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        cursor = await self._connection.execute(_ROW, (token_id,), prepare=True)
        return await cursor.fetchone()

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def aclose(self) -> None:
        async with self._lock:
            await self._discard()
