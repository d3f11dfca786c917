"""The real cipher of the module's tenant (its own Vault session, as an instance has)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.settings import Settings
from tests.fixtures.vault import start_cipher


@pytest_asyncio.fixture(scope="module")
async def cipher(settings: Settings) -> AsyncIterator[CredentialCipher]:
    vault, created = await start_cipher(settings)
    try:
        yield created
    finally:
        await vault.aclose()
