"""`CredentialCipher`: one customer's transit key as the instance uses it (encrypt, decrypt, rewrap), batched,
off the event loop, with a decrypt-and-use scope outside of which no plaintext exists."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import hvac

from tallyhold.credentials import transit
from tallyhold.credentials.context import derivation_context
from tallyhold.credentials.errors import CredentialsUnreadable, TransitRejected
from tallyhold.credentials.secret import Secret
from tallyhold.credentials.transit import CiphertextItem, EncryptItem, ItemResult
from tallyhold.credentials.vault import VaultSession
from tallyhold.logging import SecretRegistry
from tallyhold.logging import secrets as default_registry
from tallyhold.metrics import VAULT_DECRYPT_FAILURES

T = TypeVar("T")
ItemT = TypeVar("ItemT")


class CredentialCipher:
    def __init__(
        self,
        vault: VaultSession,
        *,
        customer_id: str,
        key: str,
        mount: str = "transit",
        registry: SecretRegistry = default_registry,
    ) -> None:
        self.vault = vault
        self.customer_id = customer_id
        self.key = key
        self.mount = mount
        self.registry = registry

    @property
    def available(self) -> bool:
        """False while Vault cannot be used (see `VaultSession`): callers fail fast or pause instead of trying."""
        return self.vault.available

    async def probe(self) -> str:
        return await self.vault.probe()

    def context(self, record_id: uuid.UUID | str, field: str) -> str:
        return derivation_context(self.customer_id, str(record_id), field)

    # -- batches (each chunk of ≤200 items is one Vault request) --------------------------------------------

    async def encrypt(self, items: Sequence[EncryptItem]) -> list[ItemResult[str]]:
        return await self._chunked("encrypt", items, lambda c, chunk: transit.encrypt(c, self.mount, self.key, chunk))

    async def decrypt(self, items: Sequence[CiphertextItem]) -> list[ItemResult[bytes]]:
        results = await self._chunked(
            "decrypt", items, lambda c, chunk: transit.decrypt(c, self.mount, self.key, chunk)
        )
        for result in results:
            if result.error is not None:
                # A refused decrypt may be tampering (a ciphertext moved to another row or field fails its derivation
                # context): always counted, never skipped.
                VAULT_DECRYPT_FAILURES.labels(result.error).inc()
        return results

    async def rewrap(self, items: Sequence[CiphertextItem]) -> list[ItemResult[str]]:
        return await self._chunked("rewrap", items, lambda c, chunk: transit.rewrap(c, self.mount, self.key, chunk))

    async def _chunked(
        self, op: str, items: Sequence[ItemT], run: Callable[[hvac.Client, Sequence[ItemT]], list[ItemResult[T]]]
    ) -> list[ItemResult[T]]:
        results: list[ItemResult[T]] = []
        for chunk in transit.chunks(items):

            def call(client: hvac.Client, chunk: Sequence[ItemT] = chunk) -> list[ItemResult[T]]:
                return run(client, chunk)

            results.extend(await self.vault.call(op, call))
        return results

    # -- one record's fields -------------------------------------------------------------------------------

    async def encrypt_fields(self, record_id: uuid.UUID, values: Mapping[str, str]) -> dict[str, str]:
        """field → ciphertext, for one record. All or nothing: a refused item fails the whole record."""
        for value in values.values():
            self.registry.add(value)
        items = [
            EncryptItem(name, self.context(record_id, name), value.encode("utf-8")) for name, value in values.items()
        ]
        results = await self.encrypt(items)
        if any(r.value is None for r in results):
            raise TransitRejected("encrypt_refused")
        return {r.reference: r.value for r in results if r.value is not None}

    async def decrypt_record(self, record_id: uuid.UUID, ciphertexts: Mapping[str, str]) -> dict[str, Secret]:
        """field → Secret. The caller must `close()` them when done; prefer `open`, which does. Raises
        CredentialsUnreadable (with per-field reason codes) when any field does not decrypt."""
        items = [CiphertextItem(name, self.context(record_id, name), ct) for name, ct in ciphertexts.items()]
        results = await self.decrypt(items)
        reasons = {r.reference: r.error for r in results if r.error is not None}
        opened: dict[str, Secret] = {}
        for result in results:
            if result.value is None:
                continue
            try:
                opened[result.reference] = Secret(result.value.decode("utf-8"), registry=self.registry)
            except UnicodeDecodeError:
                reasons[result.reference] = "malformed"
        if reasons:
            for secret in opened.values():
                secret.close()
            raise CredentialsUnreadable(reasons)
        return opened

    @asynccontextmanager
    async def open(self, record_id: uuid.UUID, ciphertexts: Mapping[str, str]) -> AsyncIterator[dict[str, Secret]]:
        """Decrypt one record's fields for the duration of the `async with` block only."""
        opened = await self.decrypt_record(record_id, ciphertexts)
        try:
            yield opened
        finally:
            for secret in opened.values():
                secret.close()
