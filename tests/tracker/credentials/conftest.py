"""The real cipher of the module's tenant (its own Vault session, as an instance has)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.vault import VaultSession
from tallyhold.logging import SecretRegistry, secrets
from tallyhold.settings import Settings


async def start_cipher(settings: Settings, registry: SecretRegistry = secrets) -> tuple[VaultSession, CredentialCipher]:
    vault = VaultSession(settings)
    await vault.start()
    assert settings.vault.key is not None
    cipher = CredentialCipher(vault, customer_id=settings.customer_id, key=settings.vault.key, registry=registry)
    return vault, cipher


@pytest_asyncio.fixture(scope="module")
async def cipher(settings: Settings) -> AsyncIterator[CredentialCipher]:
    vault, created = await start_cipher(settings)
    try:
        yield created
    finally:
        await vault.aclose()
