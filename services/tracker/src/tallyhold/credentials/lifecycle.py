"""Per-tenant Vault objects, as a library the provisioner calls with its own (privileged) hvac client.

    ensure_engines(admin)                      transit + approle mounted; transit/config/keys disable_upsert
    ensure_key(admin, tenant)                  aes256-gcm96, derived, non-exportable, no plaintext backup,
                                               deletion not allowed; an existing key is checked, not trusted
    ensure_approle_role(admin, tenant)         the instance's login locally (role id = the tenant's id)
    new_secret_id(admin, tenant)               a secret id for that role (shown to the instance only)
    kubernetes_role / ensure_kubernetes_role   the instance's login on Kubernetes (one SA, one namespace)
    rotation.rotate_and_rewrap(...)            rotate, rewrap every ciphertext, raise min_decryption_version
    destroy(admin, tenant)                     roles, then the key itself (crypto-shred)

There is no policy per tenant: every tenant role gets the one shared templated policy `tallyhold-tenant`
(`deploy/vault/tenant.hcl.tmpl`, rendered for the configured mounts and installed once per Vault by
`tallyhold_provision.vault.bootstrap`), which grants `update` on `<transit>/{encrypt,decrypt,rewrap}/<key>`
where the key name is the login's AppRole role id; `ensure_approle_role` therefore sets the role id to the
tenant's opaque id. The provisioner's own policy cannot write policies at all.

Every function converges: rerunning it after a crash, or on a tenant that is already in the wanted state,
changes nothing that already matches. Nothing secret passes through these calls except the AppRole secret id,
which only `new_secret_id` returns. Vault refusals surface as hvac's exceptions; an unreachable server as
requests' ConnectionError (both carry no secret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions

from tallyhold.credentials.errors import KeyMisconfigured

TENANT_ID = re.compile(r"^t_[0-9a-f]{4,60}$")
MOUNT = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
TENANT_POLICY = "tallyhold-tenant"  # the shared templated policy (module docstring)
KEY_TYPE = "aes256-gcm96"
# Immutable at creation (or, for the two booleans, impossible to switch off once on): a key that differs here
# cannot be repaired, only replaced.
REQUIRED_KEY_SETTINGS = {
    "type": KEY_TYPE,
    "derived": True,
    "convergent_encryption": False,
    "exportable": False,
    "allow_plaintext_backup": False,
}
DEFAULT_TOKEN_TTL = 20 * 60
DEFAULT_TOKEN_MAX_TTL = 4 * 3600


@dataclass(frozen=True)
class TenantVault:
    """A tenant's Vault names. All derive from the opaque customer id (Vault paths are visible across
    tenants); `for_customer` gives the names the provisioner's `TenantNames` uses. `policy` is the one policy its
    roles get: the shared templated one."""

    customer_id: str
    key: str
    role: str
    policy: str = TENANT_POLICY
    transit_mount: str = "transit"
    approle_mount: str = "approle"
    kubernetes_mount: str = "kubernetes"

    def __post_init__(self) -> None:
        if not TENANT_ID.fullmatch(self.customer_id) or not TENANT_ID.fullmatch(self.key):
            raise ValueError("tenant Vault names must be opaque ids (t_ + hex)")
        if not TENANT_ID.fullmatch(self.role):
            raise ValueError("tenant Vault names must be opaque ids (t_ + hex)")
        for name in (self.policy, self.transit_mount, self.approle_mount, self.kubernetes_mount):
            if not MOUNT.fullmatch(name):
                raise ValueError("mount paths and policy names are short lowercase names")

    @classmethod
    def for_customer(cls, customer_id: str, **mounts: str) -> TenantVault:
        return cls(customer_id, key=customer_id, role=customer_id, **mounts)


@dataclass(frozen=True)
class KeyInfo:
    name: str
    type: str
    derived: bool
    convergent_encryption: bool
    exportable: bool
    allow_plaintext_backup: bool
    deletion_allowed: bool
    latest_version: int
    min_decryption_version: int
    min_encryption_version: int
    min_available_version: int

    @classmethod
    def from_vault(cls, data: dict[str, Any]) -> KeyInfo:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            derived=bool(data["derived"]),
            convergent_encryption=bool(data.get("convergent_encryption", False)),
            exportable=bool(data["exportable"]),
            allow_plaintext_backup=bool(data["allow_plaintext_backup"]),
            deletion_allowed=bool(data["deletion_allowed"]),
            latest_version=int(data["latest_version"]),
            min_decryption_version=int(data["min_decryption_version"]),
            min_encryption_version=int(data.get("min_encryption_version", 0)),
            min_available_version=int(data.get("min_available_version", 0)),
        )


# -- engines -----------------------------------------------------------------------------------------


def ensure_engines(admin: hvac.Client, *, transit_mount: str = "transit", approle_mount: str = "approle") -> None:
    """Mount transit and AppRole when missing, and forbid encrypt from creating keys (`disable_upsert`): with it,
    a typo in a key name is an error instead of a new, unmanaged key."""
    mounts = admin.sys.list_mounted_secrets_engines()["data"]
    if f"{transit_mount}/" not in mounts:
        admin.sys.enable_secrets_engine("transit", path=transit_mount)
    auth = admin.sys.list_auth_methods()["data"]
    if f"{approle_mount}/" not in auth:
        admin.sys.enable_auth_method("approle", path=approle_mount)
    admin.write_data(f"{transit_mount}/config/keys", data={"disable_upsert": True})


def ensure_kubernetes_auth(
    admin: hvac.Client,
    *,
    kubernetes_host: str,
    kubernetes_ca_cert: str,
    mount: str = "kubernetes",
) -> None:
    """Mount and configure the Kubernetes auth method: Vault calls TokenReview on `kubernetes_host` (whose TLS
    certificate `kubernetes_ca_cert`, PEM, vouches for) with each login's own JWT."""
    auth = admin.sys.list_auth_methods()["data"]
    if f"{mount}/" not in auth:
        admin.sys.enable_auth_method("kubernetes", path=mount)
    # Vault runs apart from the tenants' pods, so it must not look for an in-pod CA file or reviewer token.
    config = {
        "kubernetes_host": kubernetes_host,
        "kubernetes_ca_cert": kubernetes_ca_cert,
        "disable_local_ca_jwt": True,
    }
    admin.write_data(f"auth/{mount}/config", data=config)


def transit_upsert_disabled(admin: hvac.Client, *, transit_mount: str = "transit") -> bool:
    data = admin.read(f"{transit_mount}/config/keys")
    return bool(data and data["data"].get("disable_upsert"))


# -- the key -----------------------------------------------------------------------------------------


def read_key(admin: hvac.Client, tenant: TenantVault) -> KeyInfo | None:
    try:
        response = admin.secrets.transit.read_key(name=tenant.key, mount_point=tenant.transit_mount)
    except hvac.exceptions.InvalidPath:
        return None
    return KeyInfo.from_vault(response["data"])


def ensure_key(admin: hvac.Client, tenant: TenantVault) -> KeyInfo:
    info = read_key(admin, tenant)
    if info is None:
        admin.secrets.transit.create_key(
            name=tenant.key,
            key_type=KEY_TYPE,
            derived=True,
            exportable=False,
            allow_plaintext_backup=False,
            mount_point=tenant.transit_mount,
        )
        info = read_key(admin, tenant)
        assert info is not None, "transit did not keep the key it just created"
    mismatched = [name for name, wanted in REQUIRED_KEY_SETTINGS.items() if getattr(info, name) != wanted]
    if mismatched:
        raise KeyMisconfigured(f"transit key {tenant.key} has unacceptable settings: {', '.join(mismatched)}")
    if info.deletion_allowed:
        # Only `destroy` turns this on, right before deleting; a live tenant's key must not be deletable.
        admin.secrets.transit.update_key_configuration(
            name=tenant.key, deletion_allowed=False, mount_point=tenant.transit_mount
        )
        info = read_key(admin, tenant)
        assert info is not None
    return info


def rotate_key(admin: hvac.Client, tenant: TenantVault) -> KeyInfo:
    admin.secrets.transit.rotate_key(name=tenant.key, mount_point=tenant.transit_mount)
    info = read_key(admin, tenant)
    if info is None:
        raise KeyMisconfigured(f"transit key {tenant.key} vanished during rotation")
    return info


def set_min_decryption_version(admin: hvac.Client, tenant: TenantVault, version: int) -> None:
    admin.secrets.transit.update_key_configuration(
        name=tenant.key, min_decryption_version=version, mount_point=tenant.transit_mount
    )


# -- auth roles ----------------------------------------------------------------------------------------


def ensure_approle_role(
    admin: hvac.Client,
    tenant: TenantVault,
    *,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    token_max_ttl: int = DEFAULT_TOKEN_MAX_TTL,
    token_bound_cidrs: list[str] | None = None,
    secret_id_bound_cidrs: list[str] | None = None,
) -> str:
    """The tenant's AppRole (local backend). Secret ids do not expire and are reusable, because a supervised
    instance logs in again after every restart and at every token max TTL; bind them to the instance's
    address with the CIDR arguments where it is known. The role id is the tenant's id, because the shared
    policy names the key after it. Returns the role id."""
    admin.auth.approle.create_or_update_approle(
        role_name=tenant.role,
        bind_secret_id=True,
        secret_id_ttl="0",  # noqa: S106 - a lifetime (never expires), not a secret
        secret_id_num_uses=0,
        secret_id_bound_cidrs=secret_id_bound_cidrs,
        token_policies=[tenant.policy],
        token_no_default_policy=True,
        token_ttl=f"{token_ttl}s",
        token_max_ttl=f"{token_max_ttl}s",
        token_bound_cidrs=token_bound_cidrs,
        token_type="service",  # noqa: S106 - the kind of token (renewable), not a secret
        mount_point=tenant.approle_mount,
    )
    response = admin.auth.approle.read_role_id(role_name=tenant.role, mount_point=tenant.approle_mount)
    if response["data"]["role_id"] != tenant.key:
        admin.auth.approle.update_role_id(role_name=tenant.role, role_id=tenant.key, mount_point=tenant.approle_mount)
    return tenant.key


def new_secret_id(admin: hvac.Client, tenant: TenantVault, *, cidr_list: list[str] | None = None) -> str:
    response = admin.auth.approle.generate_secret_id(
        role_name=tenant.role, cidr_list=cidr_list, mount_point=tenant.approle_mount
    )
    return str(response["data"]["secret_id"])


def kubernetes_role(
    tenant: TenantVault,
    *,
    service_account: str,
    namespace: str,
    audience: str = "vault",
    token_ttl: int = DEFAULT_TOKEN_TTL,
    token_max_ttl: int = DEFAULT_TOKEN_MAX_TTL,
) -> dict[str, Any]:
    """The Kubernetes auth role of a tenant: bound to exactly one ServiceAccount in one namespace, with the
    projected token's audience, and only `tenant.policy`. The shared template resolves key names from AppRole
    logins only, so a Kubernetes role needs a policy that names the key: the shared one is refused rather than
    bound to a role that could never use its key."""
    if tenant.policy == TENANT_POLICY:
        raise ValueError(f"{TENANT_POLICY} resolves keys from AppRole logins only: give the role a key-named policy")
    return {
        "bound_service_account_names": [service_account],
        "bound_service_account_namespaces": [namespace],
        "audience": audience,
        "alias_name_source": "serviceaccount_uid",
        "token_policies": [tenant.policy],
        "token_no_default_policy": True,
        "token_ttl": token_ttl,
        "token_max_ttl": token_max_ttl,
        "token_type": "service",
    }


def ensure_kubernetes_role(
    admin: hvac.Client, tenant: TenantVault, *, service_account: str, namespace: str, audience: str = "vault"
) -> None:
    role = kubernetes_role(tenant, service_account=service_account, namespace=namespace, audience=audience)
    admin.write_data(f"auth/{tenant.kubernetes_mount}/role/{tenant.role}", data=role)


# -- destroy -----------------------------------------------------------------------------------------


def destroy(admin: hvac.Client, tenant: TenantVault) -> None:
    """Remove the tenant's roles, then its key: allow deletion, delete. Every ciphertext made with the
    key becomes unreadable for good (crypto-shredding), including those in database backups. Vault's own
    snapshots keep the key until they age out."""
    auth = admin.sys.list_auth_methods()["data"]
    for mount in (tenant.approle_mount, tenant.kubernetes_mount):
        if f"{mount}/" in auth:
            admin.delete(f"auth/{mount}/role/{tenant.role}")
    if read_key(admin, tenant) is not None:
        admin.secrets.transit.update_key_configuration(
            name=tenant.key, deletion_allowed=True, mount_point=tenant.transit_mount
        )
        admin.secrets.transit.delete_key(name=tenant.key, mount_point=tenant.transit_mount)


def exists(admin: hvac.Client, tenant: TenantVault) -> dict[str, bool]:
    """Which of the tenant's Vault objects exist (for `status` and for destroy's tests)."""
    auth = admin.sys.list_auth_methods()["data"]
    roles: dict[str, bool] = {}
    for name, mount in (("approle_role", tenant.approle_mount), ("kubernetes_role", tenant.kubernetes_mount)):
        roles[name] = f"{mount}/" in auth and admin.read(f"auth/{mount}/role/{tenant.role}") is not None
    return {"key": read_key(admin, tenant) is not None, **roles}
