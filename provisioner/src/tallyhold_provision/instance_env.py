"""The settings a customer's instance starts with.

Two sources, in this order of precedence:
1. the customer's identity and credentials, which only the provisioner may set (a value shared by several
   instances would merge customers: one database role, one Vault identity). The operator's environment can
   never override these;
2. every other `TALLYHOLD_` variable of the operator's environment (venue overrides, RPC URLs, log level,
   ports…), passed through unchanged, over the provisioner's own defaults (`TALLYHOLD_ENV=production`).
`TALLYHOLD_PROVISIONER_*` and `TALLYHOLD_STATE_DIR` configure the provisioner itself and are not passed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tallyhold_provision.naming import TenantNames

PREFIX = "TALLYHOLD_"
# Settings that make an instance *this* customer's instance.
PROTECTED = frozenset(
    PREFIX + name
    for name in (
        "DATABASE_URL",
        "DB_SCHEMA",
        "CUSTOMER_ID",
        "MIGRATION_DATABASE_URL",
        "MIGRATION_ROLE",
        "VAULT_AUTH",
        "VAULT_TOKEN",
        "VAULT_ROLE_ID",
        "VAULT_SECRET_ID",
        "VAULT_WRAPPED_SECRET_ID",
        "VAULT_SECRET_ID_FILE",
        "VAULT_K8S_ROLE",
        "VAULT_KEY",
    )
)
NOT_FOR_INSTANCES = ("TALLYHOLD_PROVISIONER_", "TALLYHOLD_STATE_DIR")
DEFAULTS = {"TALLYHOLD_ENV": "production"}


def passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """The operator's TALLYHOLD_ variables that reach every instance."""
    return {
        key: value
        for key, value in environ.items()
        if key.startswith(PREFIX) and not key.startswith(NOT_FOR_INSTANCES) and key not in PROTECTED
    }


@dataclass(frozen=True)
class VaultIdentity:
    addr: str
    key: str
    auth: str  # approle | kubernetes
    transit_mount: str = "transit"
    approle_mount: str = "approle"
    role_id: str | None = None
    wrapped_secret_id: str | None = field(default=None, repr=False)
    cacert: str | None = None


def instance_environment(
    names: TenantNames, database_url: str, vault: VaultIdentity | None, environ: Mapping[str, str]
) -> dict[str, str]:
    identity = {
        "TALLYHOLD_DATABASE_URL": database_url,
        "TALLYHOLD_DB_SCHEMA": names.schema,
        "TALLYHOLD_CUSTOMER_ID": names.customer_id,
    }
    if vault is not None:
        identity |= {
            "TALLYHOLD_VAULT_ADDR": vault.addr,
            "TALLYHOLD_VAULT_AUTH": vault.auth,
            "TALLYHOLD_VAULT_KEY": vault.key,
            "TALLYHOLD_VAULT_TRANSIT_MOUNT": vault.transit_mount,
        }
        if vault.auth == "approle" and vault.role_id and vault.wrapped_secret_id:
            # Only the wrapping token: the instance unwraps its secret id itself (the backend says where it keeps
            # it, TALLYHOLD_VAULT_SECRET_ID_FILE).
            identity |= {
                "TALLYHOLD_VAULT_APPROLE_MOUNT": vault.approle_mount,
                "TALLYHOLD_VAULT_ROLE_ID": vault.role_id,
                "TALLYHOLD_VAULT_WRAPPED_SECRET_ID": vault.wrapped_secret_id,
            }
        if vault.cacert:
            identity["TALLYHOLD_VAULT_CACERT"] = vault.cacert
    return {**DEFAULTS, **passthrough(environ), **identity}
