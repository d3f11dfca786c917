"""Credentials of exchange connections: sealing a key before its row is written, and opening it to use it.

Never commits: the request or job that calls it owns the transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.context import COLUMNS
from tallyhold.credentials.errors import CredentialsUnreadable, VaultUnavailable
from tallyhold.credentials.repository import CredentialRepository, StoredKey
from tallyhold.credentials.secret import ExchangeCredentials, Secret
from tallyhold.exchanges.verification import ExchangeKey
from tallyhold.logging import secrets
from tallyhold.models import Connection

logger = logging.getLogger("tallyhold.credentials")
KEY_HINT_LENGTH = 4


@dataclass(frozen=True)
class SealedKey:
    """What a connection row stores of a key: ciphertexts by column, and the hint (last 4 of the API key)."""

    columns: dict[str, str | None]
    key_hint: str


def register(key: ExchangeKey) -> None:
    """Make the log redaction filter mask every field of `key` from now on (before anything else sees it)."""
    for value in (key.api_key, key.api_secret, key.passphrase, key.uid):
        if value is not None:
            secrets.add(value.get_secret_value())


def key_hint(key: ExchangeKey) -> str:
    return key.api_key.get_secret_value()[-KEY_HINT_LENGTH:]


async def seal(
    session: AsyncSession, cipher: CredentialCipher | None, schema: str, connection_id: uuid.UUID, key: ExchangeKey
) -> SealedKey:
    """Encrypt every field of `key` bound to `connection_id`, holding the credential write lock until the
    caller's transaction ends. Raises VaultUnavailable (503) without Vault: there is no other way to store."""
    if cipher is None:
        raise VaultUnavailable("not_configured")
    if not cipher.available:
        raise VaultUnavailable(cipher.vault.reason)
    register(key)
    await CredentialRepository(session).lock_for_write(schema)
    values = {"api_key": key.api_key, "api_secret": key.api_secret, "passphrase": key.passphrase, "uid": key.uid}
    present = {name: value.get_secret_value() for name, value in values.items() if value is not None}
    ciphertexts = await cipher.encrypt_fields(connection_id, present)
    return SealedKey({COLUMNS[name]: ciphertexts.get(name) for name in values}, key_hint(key))


@asynccontextmanager
async def open_credentials(
    session: AsyncSession, cipher: CredentialCipher | None, connection_id: uuid.UUID
) -> AsyncIterator[ExchangeCredentials]:
    """Decrypt a connection's key for the duration of the `async with` block (the plaintext is dropped when it
    ends). The ciphertexts are read fresh, and a ciphertext retired by a rotation that finished meanwhile is
    read and tried once more, so a sync never fails because a rotation ran under it.

    Raises VaultUnavailable when Vault cannot be used (pause; nothing is marked), and CredentialsUnreadable
    when a ciphertext does not decrypt: the connection has then been marked `error` /
    `credentials_unreadable` in `session`; let that transaction commit so the mark persists.
    """
    if cipher is None:
        raise VaultUnavailable("not_configured")
    repository = CredentialRepository(session)
    failure: CredentialsUnreadable | None = None
    opened: dict[str, Secret] | None = None
    stored: StoredKey | None = None
    for attempt in range(2):
        stored = await repository.stored(connection_id)
        ciphertexts = stored.ciphertexts if stored else {}
        if "api_key" not in ciphertexts or "api_secret" not in ciphertexts:
            failure = CredentialsUnreadable({"api_key": "missing"})
            break
        try:
            opened = await cipher.decrypt_record(connection_id, ciphertexts)
            break
        except CredentialsUnreadable as refused:
            failure = refused
            if attempt == 0 and set(refused.reasons.values()) == {"version_too_old"}:
                continue
            break
    if opened is None:
        assert failure is not None
        if stored is not None:
            await repository.mark_unreadable(connection_id, stored.version)
        logger.warning(
            "credentials unreadable",
            extra={"connection_id": str(connection_id), "reasons": sorted(set(failure.reasons.values()))},
        )
        raise failure
    credentials = ExchangeCredentials(
        api_key=opened["api_key"],
        api_secret=opened["api_secret"],
        passphrase=opened.get("passphrase"),
        uid=opened.get("uid"),
    )
    try:
        yield credentials
    finally:
        credentials.close()


class CipherKeySource:
    """`exchanges.sync.ExchangeKeySource` over the cipher: what the exchange sync's request builder calls to get
    a connection's key. The returned ExchangeKey (SecretStr fields, registered with the redaction) lives as long
    as the egress request built from it: that request is this decrypt's scope of use.

    Raises VaultUnavailable (503, transient: pause the sync, keep balances flagged stale) or
    CredentialsUnreadable (the connection was marked `error` in `session`; commit that).
    """

    def __init__(self, cipher: CredentialCipher) -> None:
        self.cipher = cipher

    async def exchange_key(self, session: AsyncSession, connection: Connection) -> ExchangeKey:
        async with open_credentials(session, self.cipher, connection.id) as opened:
            return ExchangeKey(
                api_key=SecretStr(opened.api_key.reveal()),
                api_secret=SecretStr(opened.api_secret.reveal()),
                passphrase=SecretStr(opened.passphrase.reveal()) if opened.passphrase else None,
                uid=SecretStr(opened.uid.reveal()) if opened.uid else None,
            )
