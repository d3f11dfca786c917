"""Exchange connections: create one, replace its key. Never commits: the route owns the one write transaction.

The exchange round-trip happens with no database transaction open (no connection held from the pool, no row
lock, no token row touched), so a slow or hanging exchange never holds up other writers:
    1. the key's characters must be ones an exchange can accept (422 `invalid_key_format`, exchanges.keyformat);
       Vault must be usable (503 `vault_unavailable` otherwise: there is no other place a key may go);
    2. `verify`: the verifier asks the exchange what the key may do and refuses anything but read-only
       (400/422/502/504, see `exchanges.verification`); the key's parts were registered with the log redaction
       when the body was read (exchanges/key.py);
    3. only then, in the route's one transaction, `store_new` / `store_replacement`: the credential lock, the
       encryption (bound to the connection's id), the row, the audit event. Nothing is stored unless 201/200.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.audit.repository import AuditRepository
from tallyhold.connections.repository import ConnectionRepository
from tallyhold.connections.schemas import ConnectionOut, ExchangeConnectionCreate, ExchangeKeyInput
from tallyhold.connections.service import get
from tallyhold.credentials import service as credentials
from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.errors import NotFound, Unprocessable
from tallyhold.exchanges import keyformat
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.verification import CredentialVerifier, KeyVerification
from tallyhold.models import Connection


@dataclass(frozen=True)
class VerifiedKey:
    """A key the exchange itself reported read-only, not stored yet. Its fields are SecretStr (masked)."""

    exchange: str
    key: ExchangeKey
    verification: KeyVerification
    cipher: CredentialCipher


async def verify(
    exchange: str, body: ExchangeKeyInput, *, cipher: CredentialCipher | None, verifier: CredentialVerifier
) -> VerifiedKey:
    """Steps 1 and 2. Call it with no transaction open: it waits on the exchange."""
    keyformat.check(exchange, body)  # bad input: refused before Vault or the exchange is asked
    usable = credentials.usable_cipher(cipher)
    verification = await verifier.verify(exchange, body, acknowledge_unverifiable=body.acknowledge_unverifiable)
    return VerifiedKey(exchange, body, verification, usable)


async def exchange_of(session: AsyncSession, connection_id: uuid.UUID) -> str:
    """The venue whose key a replacement must be verified with (404, or 422 for a connection without a key)."""
    existing = await ConnectionRepository(session).get(connection_id)
    if existing is None:
        raise NotFound("No such connection.")
    if existing.kind != "exchange" or existing.exchange is None:
        raise Unprocessable("Only exchange connections have credentials.", code="not_exchange_connection")
    return existing.exchange


def _apply(connection: Connection, sealed: credentials.SealedKey, verification: KeyVerification) -> None:
    now = datetime.now(UTC)
    for column, ciphertext in sealed.columns.items():
        setattr(connection, column, ciphertext)
    connection.key_hint = sealed.key_hint
    connection.permissions = verification.permissions.model_dump(mode="json")
    connection.permissions_checked_at = now
    connection.ip_restricted = verification.ip_restricted
    connection.key_expires_at = verification.key_expires_at
    connection.key_created_at = verification.key_created_at or now
    connection.status = "active"
    connection.last_error = None
    connection.updated_at = now


def _restart_sync(connection: Connection) -> None:
    """A new key starts afresh: a sync still running with the old key sees the version change and stores
    nothing (sync/service.py), and the old key's failures, backoff, hold and lease no longer delay the new one."""
    connection.credentials_version += 1
    connection.failure_count = 0
    connection.next_attempt_at = None
    connection.hold_until = None
    connection.sync_lease_until = None


async def store_new(
    session: AsyncSession, body: ExchangeConnectionCreate, verified: VerifiedKey, *, schema: str, actor: str
) -> ConnectionOut:
    connection = Connection(id=uuid.uuid4(), kind="exchange", label=body.label, exchange=verified.exchange)
    sealed = await credentials.seal(session, verified.cipher, schema, connection.id, verified.key)
    _apply(connection, sealed, verified.verification)
    await ConnectionRepository(session).add(connection)
    await AuditRepository(session).record(
        "connection.created", actor=actor, connection_id=connection.id, kind="exchange", exchange=verified.exchange
    )
    return _present(await get(session, connection.id), verified.verification)


async def store_replacement(
    session: AsyncSession, connection_id: uuid.UUID, verified: VerifiedKey, *, schema: str, actor: str
) -> ConnectionOut:
    # Lock order as in a key rotation (tallyhold_provision/rotation.py): the credential lock (taken by `seal`) before
    # the connection's row, so the two never deadlock; and the row is not held while Vault encrypts.
    # `verified.exchange` is the connection's own (read by `exchange_of`; no route changes it after creation).
    sealed = await credentials.seal(session, verified.cipher, schema, connection_id, verified.key)
    connection = await ConnectionRepository(session).get(connection_id, for_update=True)
    if connection is None:  # deleted while the exchange was being asked
        raise NotFound("No such connection.")
    _apply(connection, sealed, verified.verification)
    _restart_sync(connection)
    await session.flush()
    await AuditRepository(session).record(
        "connection.credentials_replaced", actor=actor, connection_id=connection_id, exchange=verified.exchange
    )
    return _present(await get(session, connection_id), verified.verification)


def _present(out: ConnectionOut, verification: KeyVerification) -> ConnectionOut:
    return out.model_copy(update={"warnings": list(verification.warnings)})
