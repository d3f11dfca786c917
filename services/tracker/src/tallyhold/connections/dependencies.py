"""The verifier of exchange keys, as a typed route dependency (`VerifierDep`)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from tallyhold.api.dependencies import runtime_of
from tallyhold.exchanges.verification import CredentialVerifier


class ConnectionParts(Protocol):
    @property
    def verifier(self) -> CredentialVerifier: ...


async def get_verifier(request: Request) -> CredentialVerifier:
    parts: ConnectionParts = runtime_of(request)
    return parts.verifier


VerifierDep = Annotated[CredentialVerifier, Depends(get_verifier)]
