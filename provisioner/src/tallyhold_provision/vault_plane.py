"""What the control plane needs from Vault for one customer (implemented in `vault.py` over the credentials
library). Kept as a protocol so that every step of `operations.py` reads the same whatever the Vault."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tallyhold_provision.backends.base import Health
from tallyhold_provision.naming import TenantNames

# Where a backend's stored secrets keep the accessor of the one secret id the instance holds.
SECRET_ID_ACCESSOR_KEY = "vault_secret_id_accessor"  # noqa: S105 - the name of a stored value, not a secret


@dataclass(frozen=True)
class SecretIdRecord:
    """What the provisioner keeps of an instance's secret id: the wrapping token it handed over (single use,
    worthless once the instance unwrapped it) and the secret id's accessor (lookup and destroy only)."""

    wrapping_token: str = field(repr=False)
    accessor: str


class VaultPlane(Protocol):
    addr: str
    cacert: str | None

    @property
    def transit_mount(self) -> str: ...

    @property
    def approle_mount(self) -> str: ...

    def ensure_tenant(self, names: TenantNames, auth: str = "approle") -> None:
        """Transit key (aes256-gcm96, derived, non-exportable, not deletable) and the tenant's auth role: an
        AppRole (`approle`, key t_<hex>) or a Kubernetes role (`kubernetes`, key named like the namespace)."""

    def ensure_secret_id(self, names: TenantNames, current: SecretIdRecord | None) -> SecretIdRecord:
        """`current` while it keeps its instance logging in, else a new response-wrapped AppRole secret id."""
        ...

    def retire_secret_ids(self, names: TenantNames, keep: str) -> int:
        """Destroy every secret id of the tenant's AppRole but the one with accessor `keep`."""
        ...

    def rotate(self, names: TenantNames, database_url: str, schema: str, auth: str = "approle") -> int:
        """Rotate the key, rewrap every ciphertext of the schema, raise min_decryption_version; the new version."""
        ...

    def destroy_tenant(self, names: TenantNames) -> None:
        """Delete the auth roles (every secret id with them), revoke the tenant's live tokens, delete its
        identity entities and aliases, then the transit key: crypto-shredding. Idempotent."""

    def exists(self, names: TenantNames, auth: str = "approle") -> bool:
        """Whether the key or the auth role still exists."""
        ...

    def health(self, names: TenantNames, auth: str = "approle", secret_id_accessor: str | None = None) -> Health:
        """Key and auth role as the provisioner sets them; for an AppRole, no secret id but the instance's own
        (`secret_id_accessor`, None when it has none yet): any other one could log in as the tenant."""
        ...
