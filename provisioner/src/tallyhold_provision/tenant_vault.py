"""Per-tenant Vault objects, made with the provisioner's own (restricted) hvac client.

    ensure_engines(admin)                      transit, approle and kubernetes mounted; transit disable_upsert
    ensure_key(admin, tenant)                  aes256-gcm96, derived, non-exportable, no plaintext backup,
                                               deletion not allowed; an existing key is checked, not trusted
    ensure_approle_role(admin, tenant, cidrs)  the instance's login locally (role id = the tenant's id)
    wrapped_secret_id(admin, tenant)           a response-wrapped secret id for that role: a single-use wrapping
                                               token for the instance to unwrap, and the secret id's accessor
    kubernetes_role / ensure_kubernetes_role   the instance's login on Kubernetes (one SA, one namespace)
    rotation.rotate_and_rewrap(...)            rotate, rewrap every ciphertext, raise min_decryption_version
    destroy(admin, tenant)                     roles, live tokens, identity, then the key itself (crypto-shred)

There is no policy per tenant: every tenant role gets the one shared templated policy `tallyhold-tenant`
(`deploy/vault/tenant.hcl.tmpl`, rendered for the configured mounts and installed once per Vault by
`tallyhold_provision.vault.bootstrap`), which grants `update` on `<transit>/{encrypt,decrypt,rewrap}/<key>`
where the key name is the login's AppRole role id or its verified Kubernetes namespace; `ensure_approle_role`
therefore sets the role id to the tenant's opaque id, and a Kubernetes tenant's key is named like its namespace.
Role parameters are sent exactly as the provisioner's policy pins them (strings and booleans, never numbers or
JSON lists); answers below an AppRole role are asked for response-wrapped, which that policy requires.

Every function converges: rerunning it after a crash, or on a tenant that is already in the wanted state,
changes nothing that already matches. Nothing secret passes through these calls: a secret id only ever as a
wrapping token. Vault refusals surface as hvac's exceptions; an unreachable server as requests'
ConnectionError (both carry no secret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions

TENANT_ID = re.compile(r"^t_[0-9a-f]{4,60}$")
# A Kubernetes tenant's key is named like its namespace (Kubernetes names cannot hold `_`): t-<hex>.
TENANT_KEY = re.compile(r"^t[_-][0-9a-f]{4,60}$")
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
# The lifetimes every tenant role gets. The provisioner's policy pins these exact strings (rendered from here).
# (Lifetimes and counts, not secrets: S105 mistakes the names for passwords.)
TOKEN_TTL = "1200s"  # noqa: S105 - 20 min; the instance renews at two thirds
TOKEN_MAX_TTL = "14400s"  # noqa: S105 - 4 h; then the instance logs in again with its secret id
# 30 days: Vault caps a secret id's lifetime at the mount's max lease TTL, 32 days by default.
SECRET_ID_TTL = "2592000s"  # noqa: S105 - a lifetime, not a secret
SECRET_ID_NUM_USES = "1000"  # noqa: S105 - a login every 4 h for 30 days is 180; the rest covers restarts
WRAP_TTL = "3600s"  # how long a wrapped answer (a secret id: for its instance to unwrap it) stays unwrappable
KUBERNETES_SERVICE_ACCOUNT = "tallyhold"
# Sent on every role write, so that converging undoes a periodic, counted or explicitly capped token set by hand.
NO_TOKEN_EXTRAS = {"token_period": "0", "token_num_uses": "0", "token_explicit_max_ttl": "0"}


class KeyMisconfigured(RuntimeError):
    """A tenant's transit key exists with immutable settings we do not accept (type, derivation, export)."""


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
        if not TENANT_ID.fullmatch(self.customer_id) or not TENANT_KEY.fullmatch(self.key):
            raise ValueError("tenant Vault names must be opaque ids (t_ + hex)")
        if not TENANT_ID.fullmatch(self.role):
            raise ValueError("tenant Vault names must be opaque ids (t_ + hex)")
        for name in (self.policy, self.transit_mount, self.approle_mount, self.kubernetes_mount):
            if not MOUNT.fullmatch(name):
                raise ValueError("mount paths and policy names are short lowercase names")

    @classmethod
    def for_customer(cls, customer_id: str, **mounts: str) -> TenantVault:
        return cls(customer_id, key=customer_id, role=customer_id, **mounts)

    @classmethod
    def for_kubernetes(cls, customer_id: str, **mounts: str) -> TenantVault:
        """A Kubernetes tenant: its key is named like its namespace, the role after its id."""
        return cls(customer_id, key=kubernetes_namespace(customer_id), role=customer_id, **mounts)


def kubernetes_namespace(customer_id: str) -> str:
    """A customer's Kubernetes namespace: its opaque id with `-` for `_` (Kubernetes names cannot hold `_`)."""
    return customer_id.replace("_", "-")


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


def ensure_engines(
    admin: hvac.Client,
    *,
    transit_mount: str = "transit",
    approle_mount: str = "approle",
    kubernetes_mount: str = "kubernetes",
) -> None:
    """Mount transit, AppRole and Kubernetes auth when missing, and forbid encrypt from creating keys
    (`disable_upsert`): with it, a typo in a key name is an error instead of a new, unmanaged key. The
    Kubernetes method is mounted even where no cluster is configured (it then refuses every login), because the
    shared tenant policy names its accessor."""
    mounts = admin.sys.list_mounted_secrets_engines()["data"]
    if f"{transit_mount}/" not in mounts:
        admin.sys.enable_secrets_engine("transit", path=transit_mount)
    auth = admin.sys.list_auth_methods()["data"]
    if f"{approle_mount}/" not in auth:
        admin.sys.enable_auth_method("approle", path=approle_mount)
    if f"{kubernetes_mount}/" not in auth:
        admin.sys.enable_auth_method("kubernetes", path=kubernetes_mount)
    admin.write_data(f"{transit_mount}/config/keys", data={"disable_upsert": True})


def auth_accessor(client: hvac.Client, mount: str) -> str | None:
    """The accessor of an auth mount (`auth_approle_…`), as policies and identity lookups name it; None when the
    method is not mounted."""
    method = client.sys.list_auth_methods()["data"].get(f"{mount}/")
    return str(method["accessor"]) if method else None


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


def approle_role(tenant: TenantVault, *, cidrs: str) -> dict[str, Any]:
    """The tenant's AppRole (local backend), every parameter as the provisioner's policy pins it. Secret ids
    expire and wear out (`SECRET_ID_TTL`, `SECRET_ID_NUM_USES`) and, like the tokens, only work from `cidrs`
    (comma-separated: where the instance runs). The role id is the tenant's id, because the shared policy
    names the key after it."""
    return {
        "bind_secret_id": True,
        "token_no_default_policy": True,
        "token_policies": tenant.policy,
        "token_type": "service",
        "token_ttl": TOKEN_TTL,
        "token_max_ttl": TOKEN_MAX_TTL,
        **NO_TOKEN_EXTRAS,
        "token_bound_cidrs": cidrs,
        "secret_id_bound_cidrs": cidrs,
        "secret_id_ttl": SECRET_ID_TTL,
        "secret_id_num_uses": SECRET_ID_NUM_USES,
        "role_id": tenant.key,
    }


def ensure_approle_role(admin: hvac.Client, tenant: TenantVault, *, cidrs: str = "127.0.0.1/32") -> str:
    """Create or re-pin the tenant's AppRole (one write: setting the same role id again is a no-op). Returns
    the role id."""
    role = approle_role(tenant, cidrs=cidrs)
    admin.write_data(f"auth/{tenant.approle_mount}/role/{tenant.role}", data=role, wrap_ttl=WRAP_TTL)
    return tenant.key


@dataclass(frozen=True)
class WrappedSecretId:
    """A secret id as the provisioner holds it: the single-use token that unwraps it, and its accessor (which
    can look it up or destroy it, never log in)."""

    wrapping_token: str = field(repr=False)
    accessor: str


def wrapped_secret_id(admin: hvac.Client, tenant: TenantVault) -> WrappedSecretId:
    """A new secret id for the tenant's role, response-wrapped: only whoever unwraps the token first gets it."""
    response = admin.write_data(f"auth/{tenant.approle_mount}/role/{tenant.role}/secret-id", data={}, wrap_ttl=WRAP_TTL)
    wrap = response["wrap_info"]
    return WrappedSecretId(str(wrap["token"]), str(wrap["wrapped_accessor"]))


def read_wrapped(client: hvac.Client, path: str, *, method: str = "GET", data: dict[str, Any] | None = None) -> Any:
    """An answer below a tenant AppRole, which the provisioner's policy only gives response-wrapped: asked for
    wrapped, then unwrapped with the wrapping token itself. None when the path does not exist."""
    try:
        if method == "GET":
            response = client.read(path, wrap_ttl=WRAP_TTL)
        elif method == "LIST":
            response = client.adapter.list(f"/v1/{path}", wrap_ttl=WRAP_TTL)
        else:
            response = client.write_data(path, data=data or {}, wrap_ttl=WRAP_TTL)
    except hvac.exceptions.InvalidPath:
        return None
    if not isinstance(response, dict) or not response.get("wrap_info"):
        return None
    try:
        return client.sys.unwrap(token=response["wrap_info"]["token"]).get("data")
    except hvac.exceptions.InvalidPath:
        return None  # Vault wrapped a "not found" answer (an accessor that no longer exists)


def kubernetes_role(
    tenant: TenantVault,
    *,
    namespace: str,
    service_account: str = KUBERNETES_SERVICE_ACCOUNT,
    audience: str = "vault",
) -> dict[str, Any]:
    """The Kubernetes auth role of a tenant: bound to exactly one ServiceAccount in one namespace, with the
    projected token's audience, and only the shared tenant policy, which names the key after the namespace
    Kubernetes vouched for. Aliases are named `<namespace>/<service account>`, so that destroy can find the
    tenant's identity without asking the cluster for the ServiceAccount's uid (a namespace is never reused: it
    is named after the opaque id)."""
    return {
        "bound_service_account_names": service_account,
        "bound_service_account_namespaces": namespace,
        "audience": audience,
        "alias_name_source": "serviceaccount_name",
        "token_policies": tenant.policy,
        "token_no_default_policy": True,
        "token_type": "service",
        "token_ttl": TOKEN_TTL,
        "token_max_ttl": TOKEN_MAX_TTL,
        **NO_TOKEN_EXTRAS,
    }


def ensure_kubernetes_role(
    admin: hvac.Client,
    tenant: TenantVault,
    *,
    namespace: str,
    service_account: str = KUBERNETES_SERVICE_ACCOUNT,
    audience: str = "vault",
) -> None:
    role = kubernetes_role(tenant, service_account=service_account, namespace=namespace, audience=audience)
    admin.write_data(f"auth/{tenant.kubernetes_mount}/role/{tenant.role}", data=role)


# -- destroy -----------------------------------------------------------------------------------------


def tenant_aliases(tenant: TenantVault) -> dict[str, str]:
    """The login alias names a tenant's identity can have, per auth mount."""
    return {
        tenant.approle_mount: tenant.customer_id,  # the role id
        tenant.kubernetes_mount: f"{kubernetes_namespace(tenant.customer_id)}/{KUBERNETES_SERVICE_ACCOUNT}",
    }


def tenant_entities(client: hvac.Client, tenant: TenantVault) -> list[str]:
    """Ids of the identity entities the tenant's logins made (one per auth method it logged in with)."""
    found: list[str] = []
    for mount, alias in tenant_aliases(tenant).items():
        accessor = auth_accessor(client, mount)
        if accessor is None:
            continue
        response = client.write_data(
            "identity/lookup/entity", data={"alias_name": alias, "alias_mount_accessor": accessor}
        )
        if isinstance(response, dict) and response.get("data"):
            found.append(str(response["data"]["id"]))
    return found


def tenant_token_accessors(client: hvac.Client, tenant: TenantVault, entities: list[str]) -> list[str]:
    """Accessors of the tenant's live tokens: logins through its roles, or tokens of its entities."""
    try:
        listed = client.list("auth/token/accessors")
    except hvac.exceptions.InvalidPath:
        return []
    logins = {f"auth/{tenant.approle_mount}/login", f"auth/{tenant.kubernetes_mount}/login"}
    mine: list[str] = []
    for accessor in (listed or {}).get("data", {}).get("keys", []):
        try:
            token = client.write_data("auth/token/lookup-accessor", data={"accessor": accessor})["data"]
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden, hvac.exceptions.InvalidPath):
            continue  # expired or revoked since the list was made
        meta = token.get("meta") or {}
        role = meta.get("role_name") or meta.get("role")
        if token.get("entity_id") in entities or (token.get("path") in logins and role == tenant.role):
            mine.append(str(accessor))
    return mine


def destroy(admin: hvac.Client, tenant: TenantVault) -> None:
    """Remove the tenant's roles (no new login), revoke its live tokens, delete its identity entities (their
    aliases go with them), then its key: allow deletion, delete. Every ciphertext made with the key becomes
    unreadable for good (crypto-shredding), including those in database backups. Vault's own snapshots keep
    the key until they age out."""
    auth = admin.sys.list_auth_methods()["data"]
    for mount in (tenant.approle_mount, tenant.kubernetes_mount):
        if f"{mount}/" in auth:
            # Wrapped: the provisioner's policy wants every request below a tenant AppRole wrapped.
            admin.adapter.delete(f"/v1/auth/{mount}/role/{tenant.role}", wrap_ttl=WRAP_TTL)
    entities = tenant_entities(admin, tenant)
    for accessor in tenant_token_accessors(admin, tenant, entities):
        admin.write_data("auth/token/revoke-accessor", data={"accessor": accessor})
    for entity in entities:
        admin.delete(f"identity/entity/id/{entity}")
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
    entities = tenant_entities(admin, tenant)
    return {
        "key": read_key(admin, tenant) is not None,
        **roles,
        "identity": bool(entities),
        "tokens": bool(tenant_token_accessors(admin, tenant, entities)),
    }
