"""Errors the operator sees as one line on stderr. Messages are ours: they name customers by slug or id and
files by path, and never carry a password, token, secret id or a server's raw answer."""

from __future__ import annotations


class ProvisionError(RuntimeError):
    """A command cannot do what was asked; the message says why and, where possible, what to do."""


class UnknownCustomer(ProvisionError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no customer named {slug!r}")


class UnknownToken(ProvisionError):
    def __init__(self, slug: str, token_id: str) -> None:
        super().__init__(f"{slug} has no active token {token_id} (`tokens {slug}` lists them)")


KUBERNETES_NOT_AVAILABLE = (
    "the kubernetes backend is not available yet (its Helm chart and cluster wiring have not landed); "
    "use --backend local"
)
