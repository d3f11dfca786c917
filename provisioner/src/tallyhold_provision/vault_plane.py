"""What the control plane needs from Vault for one customer (implemented in `vault.py` over the credentials
library). Kept as a protocol so that every step of `operations.py` reads the same whatever the Vault."""

from __future__ import annotations

from typing import Protocol

from tallyhold_provision.backends.base import Health
from tallyhold_provision.naming import TenantNames


class VaultPlane(Protocol):
    addr: str
    transit_mount: str
    approle_mount: str
    cacert: str | None

    def ensure_tenant(self, names: TenantNames, *, cidrs: list[str] | None = None) -> None:
        """Transit key (aes256-gcm96, derived, non-exportable, not deletable) and the tenant's auth role."""

    def ensure_secret_id(self, names: TenantNames, current: str | None, *, cidrs: list[str] | None = None) -> str:
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
