"""Wiring into the running instance: the Vault session and the cipher in `InstanceState.services["cipher"]`,
the exchange sync's key source in `services["exchange_keys"]`, a refusing verifier in `services["verifier"]`
unless a real one is registered, and the `vault` readiness check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tallyhold.api.state import InstanceState
from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.service import CipherKeySource
from tallyhold.credentials.vault import VaultSession
from tallyhold.exchanges.sync import KEY_SOURCE
from tallyhold.exchanges.verification import RefuseAllVerifier

CIPHER = "cipher"
VERIFIER = "verifier"


async def _not_configured() -> str:
    return "not_configured"


async def _nothing() -> None:
    return None


async def install(state: InstanceState) -> Callable[[], Awaitable[None]]:
    """Start the Vault session (a Vault that is down at start-up is not fatal) and register the cipher; returns
    the coroutine function that stops it."""
    state.services.setdefault(VERIFIER, RefuseAllVerifier())
    settings = state.settings
    if settings.vault.addr is None or settings.vault.key is None:
        state.readiness["vault"] = _not_configured
        return _nothing
    vault = VaultSession(settings)
    await vault.start()
    cipher = CredentialCipher(
        vault, customer_id=settings.customer_id, key=settings.vault.key, mount=settings.vault.transit_mount
    )
    state.services[CIPHER] = cipher
    state.services[KEY_SOURCE] = CipherKeySource(cipher)
    state.readiness["vault"] = cipher.probe
    return vault.aclose


def cipher_of(state: InstanceState) -> CredentialCipher | None:
    cipher = state.services.get(CIPHER)
    return cipher if isinstance(cipher, CredentialCipher) else None
