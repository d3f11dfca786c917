"""The interface every backend implements; the control plane (`operations.py`) only talks to this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tallyhold_provision.registry import Customer


class BackendError(RuntimeError):
    """A backend could not bring an instance to the wanted state; the message says what to look at."""


class BackendUnavailable(BackendError):
    """The backend exists in the interface but cannot be used (yet, or on this machine)."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    metrics_url: str | None
    backend_state: dict[str, Any]


@dataclass(frozen=True)
class Health:
    healthy: bool
    state: str  # a short word: running, stopped, fatal, missing, unreachable…
    detail: str | None = None


class Backend(Protocol):
    name: str
    # How the instance logs in to Vault: `approle` (local) or `kubernetes`.
    vault_auth: str

    def check_available(self) -> None:
        """Raise BackendUnavailable with a clear sentence when this backend cannot be used."""

    def vault_cidrs(self, customer: Customer) -> list[str] | None:
        """Addresses the instance logs in to Vault from, when the backend knows them (None: Vault's default)."""
        ...

    def load_secrets(self, customer: Customer) -> dict[str, str]:
        """The customer's durable instance secrets (database password, Vault secret id)."""
        ...

    def save_secrets(self, customer: Customer, secrets: dict[str, str]) -> None: ...

    def deploy(self, customer: Customer, env: dict[str, str], *, running: bool) -> Endpoint:
        """Converge the instance: its definition and settings, then running (healthy) or stopped."""
        ...

    def restart(self, customer: Customer) -> None:
        """Roll the instance onto its current definition and wait until it is healthy."""

    def stop(self, customer: Customer) -> None: ...

    def remove(self, customer: Customer) -> None:
        """Delete the instance and every file or object of it. Idempotent."""

    def exists(self, customer: Customer) -> bool: ...

    def health(self, customer: Customer) -> Health: ...

    def render(self, customer: Customer, env: dict[str, str]) -> str:
        """The manifests `deploy` would apply (kubernetes)."""
        ...
