"""The kubernetes backend: one Helm release per customer in its own namespace. Not available yet: the chart
(deploy/helm) and the cluster-side wiring come with a later issue. Until then every command that needs it says
so plainly and changes nothing, rather than pretending."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tallyhold_provision.backends.base import BackendUnavailable, Endpoint, Health
from tallyhold_provision.errors import KUBERNETES_NOT_AVAILABLE as NOT_AVAILABLE

if TYPE_CHECKING:
    from tallyhold_provision.registry import Customer


class KubernetesBackend:
    name = "kubernetes"
    vault_auth = "kubernetes"

    def check_available(self) -> None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def vault_cidrs(self, customer: Customer) -> list[str] | None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def load_secrets(self, customer: Customer) -> dict[str, str]:
        raise BackendUnavailable(NOT_AVAILABLE)

    def save_secrets(self, customer: Customer, secrets: dict[str, str]) -> None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def deploy(self, customer: Customer, env: dict[str, str], *, running: bool) -> Endpoint:
        raise BackendUnavailable(NOT_AVAILABLE)

    def restart(self, customer: Customer) -> None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def stop(self, customer: Customer) -> None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def remove(self, customer: Customer) -> None:
        raise BackendUnavailable(NOT_AVAILABLE)

    def exists(self, customer: Customer) -> bool:
        raise BackendUnavailable(NOT_AVAILABLE)

    def health(self, customer: Customer) -> Health:
        return Health(False, "unavailable", NOT_AVAILABLE)

    def render(self, customer: Customer, env: dict[str, str]) -> str:
        raise BackendUnavailable(NOT_AVAILABLE)
