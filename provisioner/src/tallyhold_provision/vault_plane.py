"""What the control plane needs from Vault for one customer (implemented in `vault.py` over the credentials
library). Kept as a protocol so that every step of `operations.py` reads the same whatever the Vault."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from tallyhold_provision.backends.base import Health
from tallyhold_provision.naming import TenantNames


class VaultPlane(Protocol):
    addr: str
    transit_mount: str
    approle_mount: str
    cacert: str | None

    def ensure_tenant(self, names: TenantNames) -> None:
        """Transit key (aes256-gcm96, derived, non-exportable, not deletable) and the tenant's auth role."""

    def ensure_secret_id(self, names: TenantNames, current: str | None) -> str:
        """`current` when it still logs in, else a new AppRole secret id (local backend)."""
        ...

    def rotate(self, names: TenantNames, database_url: str, schema: str) -> int:
        """Rotate the key, rewrap every ciphertext of the schema, raise min_decryption_version; the new version."""
        ...

    def destroy_tenant(self, names: TenantNames) -> None:
        """Delete the auth role (every secret id with it) and the transit key: crypto-shredding. Idempotent."""

    def exists(self, names: TenantNames) -> bool:
        """Whether the key or the auth role still exists."""
        ...

    def health(self, names: TenantNames) -> Health: ...


@runtime_checkable
class KubernetesVaultPlane(Protocol):
    """What the kubernetes backend needs from Vault besides `VaultPlane`: a Kubernetes customer's transit key is
    named like its namespace (`t-<hex>`, which the templated tenant policy reads from the verified login) and
    its login is a Kubernetes-auth role named after the opaque id, bound to exactly the namespace and the
    ServiceAccount `tallyhold`, with audience `vault`. The provisioner's Vault side implements these."""

    def ensure_kubernetes_tenant(self, names: TenantNames) -> None:
        """The transit key `t-<hex>` (same settings as every tenant key) and the Kubernetes-auth role."""

    def destroy_kubernetes_tenant(self, names: TenantNames) -> None:
        """Delete the Kubernetes-auth role and the key `t-<hex>` (crypto-shredding). Idempotent."""

    def rotate_kubernetes_tenant(self, names: TenantNames, database_url: str, schema: str) -> int:
        """`rotate` for the key `t-<hex>`: rotate, rewrap the schema's ciphertexts, raise min_decryption_version."""
        ...
