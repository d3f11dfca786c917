"""Exchange connections: create one, replace its key. Never commits (the request owns the transaction).

Order of every write, so that nothing is stored unless the answer is 201/200:
    1. Vault must be usable (503 `vault_unavailable` otherwise: there is no other place a key may go);
    2. the key's fields are registered with the log redaction, then the verifier asks the exchange what the
       key may do and refuses anything but read-only (400/422/502/504, see `connections.verification`);
    3. only then the credential lock, the encryption (bound to the connection's id), the row.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.audit.repository import AuditRepository
from tallyhold.connections.repository import ConnectionRepository
from tallyhold.connections.schemas import ConnectionOut, CredentialsReplace, ExchangeConnectionCreate, ExchangeKeyInput
from tallyhold.connections.service import get
from tallyhold.connections.verification import CredentialVerifier, ExchangeKey, KeyVerification
from tallyhold.credentials import service as credentials
from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.errors import VaultUnavailable
from tallyhold.errors import NotFound, Unprocessable
from tallyhold.models import Connection


def _key(body: ExchangeKeyInput) -> ExchangeKey:
    return ExchangeKey(api_key=body.api_key, api_secret=body.api_secret, passphrase=body.passphrase, uid=body.uid)


def _require_vault(cipher: CredentialCipher | None) -> CredentialCipher:
    if cipher is None:
        raise VaultUnavailable("not_configured")
    if not cipher.available:
        raise VaultUnavailable(cipher.vault.reason)
    return cipher


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


async def create(
    session: AsyncSession,
    body: ExchangeConnectionCreate,
    *,
    cipher: CredentialCipher | None,
    verifier: CredentialVerifier,
    schema: str,
    actor: str,
) -> ConnectionOut:
    cipher = _require_vault(cipher)
    key = _key(body)
    credentials.register(key)
    verification = await verifier.verify(body.exchange, key, acknowledge_unverifiable=body.acknowledge_unverifiable)
    connection = Connection(id=uuid.uuid4(), kind="exchange", label=body.label, exchange=body.exchange)
    sealed = await credentials.seal(session, cipher, schema, connection.id, key)
    _apply(connection, sealed, verification)
    await ConnectionRepository(session).add(connection)
    await AuditRepository(session).record(
        "connection.created", actor=actor, connection_id=connection.id, kind="exchange", exchange=body.exchange
    )
    return _present(await get(session, connection.id), verification)


async def replace_credentials(
    session: AsyncSession,
    connection_id: uuid.UUID,
    body: CredentialsReplace,
    *,
    cipher: CredentialCipher | None,
    verifier: CredentialVerifier,
    schema: str,
    actor: str,
) -> ConnectionOut:
    repository = ConnectionRepository(session)
    existing = await repository.get(connection_id)
    if existing is None:
        raise NotFound("No such connection.")
    if existing.kind != "exchange" or existing.exchange is None:
        raise Unprocessable("Only exchange connections have credentials.", code="not_exchange_connection")
    cipher = _require_vault(cipher)
    key = _key(body)
    credentials.register(key)
    verification = await verifier.verify(existing.exchange, key, acknowledge_unverifiable=body.acknowledge_unverifiable)
    sealed = await credentials.seal(session, cipher, schema, connection_id, key)
    connection = await repository.get(connection_id, for_update=True)
    if connection is None:  # deleted while the exchange was being asked
        raise NotFound("No such connection.")
    _apply(connection, sealed, verification)
    await session.flush()
    await AuditRepository(session).record(
        "connection.credentials_replaced", actor=actor, connection_id=connection_id, exchange=existing.exchange
    )
    return _present(await get(session, connection_id), verification)


def _present(out: ConnectionOut, verification: KeyVerification) -> ConnectionOut:
    return out.model_copy(update={"warnings": list(verification.warnings)})
