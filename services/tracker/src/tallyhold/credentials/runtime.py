"""The instance's Vault session and the cipher over the customer's transit key, for as long as the process runs
(`tallyhold.runtime.open_runtime` holds it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.vault import VaultSession
from tallyhold.settings import Settings


@asynccontextmanager
async def vault_cipher(settings: Settings) -> AsyncIterator[CredentialCipher | None]:
    """The cipher, or None without Vault settings (credentials can then be neither stored nor used). A Vault
    that is down at start-up is not fatal: the session keeps trying, and the cipher's probe reports it."""
    vault_settings = settings.vault
    if vault_settings.addr is None or vault_settings.key is None:
        yield None
        return
    vault = VaultSession(settings)
    await vault.start()
    try:
        yield CredentialCipher(
            vault, customer_id=settings.customer_id, key=vault_settings.key, mount=vault_settings.transit_mount
        )
    finally:
        await vault.aclose()
