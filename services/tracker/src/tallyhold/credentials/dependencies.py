"""The cipher of the runtime, as a typed route dependency (`CipherDep`: None without Vault settings)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from tallyhold.api.dependencies import runtime_of
from tallyhold.credentials.cipher import CredentialCipher


class CredentialParts(Protocol):
    @property
    def cipher(self) -> CredentialCipher | None: ...


async def get_cipher(request: Request) -> CredentialCipher | None:
    parts: CredentialParts = runtime_of(request)
    return parts.cipher


CipherDep = Annotated[CredentialCipher | None, Depends(get_cipher)]
