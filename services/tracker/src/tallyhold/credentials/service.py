"""Credentials of exchange connections: sealing a key before its row is written, and opening it to use it.

Never commits: the request or job that calls it owns the transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.context import COLUMNS
from tallyhold.credentials.errors import CredentialsUnreadable, VaultUnavailable
from tallyhold.credentials.repository import CredentialRepository, StoredKey
from tallyhold.credentials.secret import Secret
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.models import Connection

logger = logging.getLogger("tallyhold.credentials")


@dataclass(frozen=True)
class SealedKey:
    """What a connection row stores of a key: ciphertexts by column, and the hint (last 4 of the API key)."""

    columns: dict[str, str | None]
    key_hint: str


def usable_cipher(cipher: CredentialCipher | None) -> CredentialCipher:
    """The cipher, when Vault can be used right now; VaultUnavailable (503) otherwise: there is no other place a
    key may go, and no other way to read one."""
    if cipher is None:
        raise VaultUnavailable("not_configured")
    if not cipher.available:
        raise VaultUnavailable(cipher.vault.reason)
    return cipher


async def seal(
    session: AsyncSession, cipher: CredentialCipher | None, schema: str, connection_id: uuid.UUID, key: ExchangeKey
) -> SealedKey:
    """Encrypt every part of `key` bound to `connection_id`, holding the credential write lock until the
    caller's transaction ends. Raises VaultUnavailable (503) without Vault: there is no other way to store."""
    usable = usable_cipher(cipher)
    await CredentialRepository(session).lock_for_write(schema)
    parts = key.parts()
    present = {name: value.get_secret_value() for name, value in parts.items() if value is not None}
    ciphertexts = await usable.encrypt_fields(connection_id, present)
    return SealedKey({COLUMNS[name]: ciphertexts.get(name) for name in parts}, key.hint)


async def open_key(session: AsyncSession, cipher: CredentialCipher | None, connection_id: uuid.UUID) -> ExchangeKey:
    """Decrypt a connection's key. The ciphertexts are read fresh, and a ciphertext retired by a rotation that
    finished meanwhile is read and tried once more, so a sync never fails because a rotation ran under it. The
    decrypted values are closed as soon as the key is built: the key (registered with the log redaction, masked
    everywhere but the egress request line) is the only copy, and lives as long as the request that uses it.

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
    try:
        # Not validated again: these values passed the key's checks when they were pasted, and a rule added since
        # must not make a stored key unusable. Construction registers them with the log redaction all the same.
        passphrase, uid = opened.get("passphrase"), opened.get("uid")
        return ExchangeKey.model_construct(
            api_key=SecretStr(opened["api_key"].reveal()),
            api_secret=SecretStr(opened["api_secret"].reveal()),
            passphrase=SecretStr(passphrase.reveal()) if passphrase is not None else None,
            uid=SecretStr(uid.reveal()) if uid is not None else None,
        )
    finally:
        for secret in opened.values():
            secret.close()


class CipherKeySource:
    """`exchanges.sync.ExchangeKeySource` over the cipher: what the exchange sync's request builder calls to get
    a connection's key (`open_key`).

    Raises VaultUnavailable (503, transient: pause the sync, keep balances flagged stale) or
    CredentialsUnreadable (the connection was marked `error` in `session`; commit that).
    """

    def __init__(self, cipher: CredentialCipher) -> None:
        self.cipher = cipher

    async def exchange_key(self, session: AsyncSession, connection: Connection) -> ExchangeKey:
        return await open_key(session, self.cipher, connection.id)
