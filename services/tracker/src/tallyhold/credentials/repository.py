"""SQL of the credentials domain: the write lock, fresh reads of a connection's ciphertexts, error marking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.credentials.context import COLUMNS, FIELDS
from tallyhold.credentials.locks import lock_key
from tallyhold.models import Connection

UNREADABLE = "credentials_unreadable"


@dataclass(frozen=True)
class StoredKey:
    ciphertexts: dict[str, str]  # by field name, only the fields that are set
    version: int  # `connections.credentials_version` read in the same statement


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_for_write(self, schema: str) -> None:
        """The shared credential lock, held until the transaction ends (see `credentials.locks`). Take it before
        encrypting, so a rotation cannot finish between our encrypt and our commit."""
        key = lock_key(schema)
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock_shared(:c, :o)"), {"c": key["class"], "o": key["object"]}
        )

    async def stored(self, connection_id: uuid.UUID) -> StoredKey | None:
        """The connection's stored ciphertexts as they are now (not as an ORM object loaded earlier saw them)."""
        columns = [getattr(Connection, COLUMNS[name]) for name in FIELDS]
        statement = select(Connection.credentials_version, *columns).where(Connection.id == connection_id)
        row = (await self.session.execute(statement)).first()
        if row is None:
            return None
        version, *values = row
        texts = {name: value for name, value in zip(FIELDS, values, strict=True) if value is not None}
        return StoredKey(texts, int(version))

    async def mark_unreadable(self, connection_id: uuid.UUID, version: int) -> None:
        """Only the key that failed to decrypt: a replacement committed meanwhile is a different key."""
        await self.session.execute(
            update(Connection)
            .where(Connection.id == connection_id, Connection.credentials_version == version)
            .values(status="error", last_error=UNREADABLE, updated_at=datetime.now(UTC))
        )
