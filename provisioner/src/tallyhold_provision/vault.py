"""The provisioner's side of Vault, over the credentials library (`tallyhold_provision.tenant_vault`).

The provisioner logs in with its own identity, whose policy is `deploy/vault/provisioner.hcl.tmpl`: tenant keys
(`t_*`) and tenant AppRoles only, never a policy. So tenants do not get a policy each: every tenant role gets
the one templated policy `tallyhold-tenant` (`deploy/vault/tenant.hcl.tmpl`, installed once by whoever
administers Vault: `bootstrap()` for the local OpenBao), which grants the key named like the login's AppRole
role id; the provisioner sets each role id to the tenant's opaque id.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any

import hvac
import hvac.exceptions
import psycopg
from psycopg import sql

from tallyhold_provision import tenant_vault
from tallyhold_provision.backends.base import Health
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.naming import TenantNames
from tallyhold_provision.rotation import rotate_and_rewrap
from tallyhold_provision.tenant_vault import TENANT_POLICY, TenantVault
from tallyhold_provision.vault_plane import SecretIdRecord

PROVISIONER_POLICY = "tallyhold-provisioner"
PROVISIONER_ROLE = "tallyhold-provisioner"
LOCAL_INSTANCE_CIDRS = "127.0.0.1/32"


def policy_dir() -> Path:
    """deploy/vault of the checkout this package runs from."""
    return checkout_root() / "deploy" / "vault"


# What may be pasted into a policy's paths and lists, per placeholder: never HCL syntax. Accessors come from
# Vault's own sys/auth answer, and are checked all the same.
POLICY_WORD = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
ACCESSOR = re.compile(r"^auth_(approle|kubernetes)_[0-9a-f]{8,64}$")
AUDIENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$")
LIFETIME = re.compile(r"^[0-9]{1,10}s?$")


def _valid_cidrs(value: str) -> bool:
    try:
        return all(str(ipaddress.ip_network(part, strict=True)) == part for part in value.split(","))
    except ValueError:
        return False


def _valid(name: str, value: str) -> bool:
    if name.endswith("_accessor"):
        return ACCESSOR.fullmatch(value) is not None
    if name == "instance_cidrs":
        return _valid_cidrs(value)
    if name == "kubernetes_audience":
        return AUDIENCE.fullmatch(value) is not None
    if name in {"token_ttl", "token_max_ttl", "secret_id_ttl", "secret_id_num_uses", "wrap_ttl"}:
        return LIFETIME.fullmatch(value) is not None
    return POLICY_WORD.fullmatch(value) is not None


def render_policy(template: str, **values: str) -> str:
    """deploy/vault/<template> with the configured mounts and names filled in (every placeholder is required)."""
    bad = [name for name, value in values.items() if not _valid(name, value)]
    if bad:
        raise ValueError(f"not a valid Vault mount, name or value: {', '.join(sorted(bad))}")
    return Template((policy_dir() / template).read_text()).substitute(values)


def tenant_policy_text(approle_accessor: str, kubernetes_accessor: str, *, transit_mount: str = "transit") -> str:
    return render_policy(
        "tenant.hcl.tmpl",
        approle_accessor=approle_accessor,
        kubernetes_accessor=kubernetes_accessor,
        transit_mount=transit_mount,
    )


@dataclass(frozen=True)
class VaultLayout:
    """Where tenants live in a Vault, and what their roles look like: the provisioner's settings. Both the
    provisioner's policy and its requests are made from the same layout, so that the one permits the other."""

    transit_mount: str = "transit"
    approle_mount: str = "approle"
    kubernetes_mount: str = "kubernetes"
    tenant_policy: str = TENANT_POLICY
    instance_cidrs: str = LOCAL_INSTANCE_CIDRS
    kubernetes_audience: str = "vault"


def provisioner_policy_text(layout: VaultLayout, *, approle_accessor: str, kubernetes_accessor: str) -> str:
    return render_policy(
        "provisioner.hcl.tmpl",
        **asdict(layout),  # its fields are the template's placeholders
        approle_accessor=approle_accessor,
        kubernetes_accessor=kubernetes_accessor,
        token_ttl=tenant_vault.TOKEN_TTL,
        token_max_ttl=tenant_vault.TOKEN_MAX_TTL,
        secret_id_ttl=tenant_vault.SECRET_ID_TTL,
        secret_id_num_uses=tenant_vault.SECRET_ID_NUM_USES,
        wrap_ttl=tenant_vault.WRAP_TTL,
    )


def _seconds(value: str) -> int:
    return int(value.rstrip("s"))


@dataclass
class Vault:
    """`VaultPlane` over hvac with the provisioner's (restricted) token."""

    client: hvac.Client
    addr: str
    layout: VaultLayout = field(default_factory=VaultLayout)
    cacert: str | None = None

    @property
    def transit_mount(self) -> str:
        return self.layout.transit_mount

    @property
    def approle_mount(self) -> str:
        return self.layout.approle_mount

    def _tenant(self, names: TenantNames, auth: str = "approle") -> TenantVault:
        mounts = {
            "policy": self.layout.tenant_policy,
            "transit_mount": self.layout.transit_mount,
            "approle_mount": self.layout.approle_mount,
            "kubernetes_mount": self.layout.kubernetes_mount,
        }
        if auth == "kubernetes":
            return TenantVault.for_kubernetes(names.customer_id, **mounts)
        return TenantVault.for_customer(names.customer_id, **mounts)

    def ensure_tenant(self, names: TenantNames, auth: str = "approle") -> None:
        tenant = self._tenant(names, auth)
        tenant_vault.ensure_key(self.client, tenant)
        if auth == "kubernetes":
            tenant_vault.ensure_kubernetes_role(
                self.client, tenant, namespace=names.namespace, audience=self.layout.kubernetes_audience
            )
        else:
            tenant_vault.ensure_approle_role(self.client, tenant, cidrs=self.layout.instance_cidrs)

    def ensure_secret_id(self, names: TenantNames, current: SecretIdRecord | None) -> SecretIdRecord:
        """`current` while it will keep its instance logging in, else a new response-wrapped secret id. Replaced
        when it is gone, has used half its lifetime or logins, or was never unwrapped and can no longer be."""
        if current is not None and self._secret_id_fresh(names, current):
            return current
        wrapped = tenant_vault.wrapped_secret_id(self.client, self._tenant(names))
        return SecretIdRecord(wrapped.wrapping_token, wrapped.accessor)

    def _secret_id_fresh(self, names: TenantNames, current: SecretIdRecord) -> bool:
        path = f"auth/{self.approle_mount}/role/{names.vault_role}/secret-id-accessor/lookup"
        try:
            data = tenant_vault.read_wrapped(
                self.client, path, method="POST", data={"secret_id_accessor": current.accessor}
            )
        except hvac.exceptions.InvalidRequest:
            return False  # no such accessor: destroyed or expired
        if not data:
            return False
        full_uses = int(tenant_vault.SECRET_ID_NUM_USES)
        uses_left = int(data.get("secret_id_num_uses") or 0)
        expires = datetime.fromisoformat(str(data["expiration_time"]).replace("Z", "+00:00"))
        half_life = timedelta(seconds=_seconds(tenant_vault.SECRET_ID_TTL) / 2)
        if uses_left < full_uses / 2 or expires - datetime.now(UTC) < half_life:
            return False
        # Never used and no longer unwrappable: the instance never got it (it was stopped while the wrapping
        # token lived). A new one is the only way it can log in.
        return uses_left < full_uses or self._unwrappable(current.wrapping_token)

    def _unwrappable(self, wrapping_token: str) -> bool:
        try:
            self.client.write_data("sys/wrapping/lookup", data={"token": wrapping_token})
        except hvac.exceptions.InvalidRequest:
            return False
        return True

    def secret_id_accessors(self, names: TenantNames) -> list[str]:
        """The accessors of every live secret id of the tenant's AppRole."""
        path = f"auth/{self.approle_mount}/role/{names.vault_role}/secret-id"
        listed = tenant_vault.read_wrapped(self.client, path, method="LIST") or {}
        return [str(accessor) for accessor in listed.get("keys") or []]

    def retire_secret_ids(self, names: TenantNames, keep: str) -> int:
        """Destroy every secret id of the tenant's role but `keep` (the one its instance now holds): a secret id
        made outside `create`, or an earlier one, stops working. Returns how many were destroyed."""
        role = f"auth/{self.approle_mount}/role/{names.vault_role}"
        retired = 0
        for accessor in self.secret_id_accessors(names):
            if accessor != keep:
                self.client.write_data(
                    f"{role}/secret-id-accessor/destroy",
                    data={"secret_id_accessor": accessor},
                    wrap_ttl=tenant_vault.WRAP_TTL,
                )
                retired += 1
        return retired

    def rotate(self, names: TenantNames, database_url: str, schema: str, auth: str = "approle") -> int:
        with psycopg.connect(database_url, autocommit=True, application_name="tallyhold-provision.rotate") as conn:
            # Rewritten rows are written as the schema's owner, not as the admin role.
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(names.owner_role)))
            report = rotate_and_rewrap(self.client, self._tenant(names, auth), conn, schema)
        return int(report.latest_version)

    def destroy_tenant(self, names: TenantNames) -> None:
        """Both kinds of tenant (AppRole and Kubernetes): roles, tokens, identities, keys."""
        tenant_vault.destroy(self.client, self._tenant(names, "approle"))
        kubernetes = self._tenant(names, "kubernetes")
        tenant_vault.destroy(self.client, kubernetes)

    def _role(self, names: TenantNames, auth: str) -> dict[str, Any] | None:
        if auth == "kubernetes":
            response = self.client.read(f"auth/{self.layout.kubernetes_mount}/role/{names.vault_role}")
            return response["data"] if isinstance(response, dict) else None
        data = tenant_vault.read_wrapped(self.client, f"auth/{self.approle_mount}/role/{names.vault_role}")
        return data if isinstance(data, dict) else None

    def exists(self, names: TenantNames, auth: str = "approle") -> bool:
        return (
            tenant_vault.read_key(self.client, self._tenant(names, auth)) is not None
            or self._role(names, auth) is not None
        )

    def health(self, names: TenantNames, auth: str = "approle", secret_id_accessor: str | None = None) -> Health:
        try:
            key = tenant_vault.read_key(self.client, self._tenant(names, auth))
            role = self._role(names, auth)
            accessors = self.secret_id_accessors(names) if auth == "approle" and role is not None else []
        except hvac.exceptions.VaultError:
            return Health(False, "unreachable", "Vault refused or failed the check")
        except OSError:
            return Health(False, "unreachable", "Vault does not answer")
        if key is None:
            return Health(False, "missing", "no transit key")
        wrong = [k for k, v in tenant_vault.REQUIRED_KEY_SETTINGS.items() if getattr(key, k) != v]
        if wrong or key.deletion_allowed:
            return Health(False, "misconfigured", f"key settings: {', '.join(wrong) or 'deletion_allowed'}")
        if role is None:
            return Health(False, "missing", "no auth role")
        unpinned = self._unpinned(role, auth)
        if unpinned:
            return Health(False, "misconfigured", f"auth role settings: {', '.join(unpinned)}")
        # A secret id the instance does not hold was made by somebody else (by hand, or by a provisioner
        # identity that is not used as it should be): it can log in as the tenant until the next converge.
        extra = sum(1 for accessor in accessors if accessor != secret_id_accessor)
        if extra:
            return Health(False, "misconfigured", f"extra secret ids: {extra} besides the instance's own")
        return Health(True, "ok", f"key version {key.latest_version}, min decryption {key.min_decryption_version}")

    def _unpinned(self, role: dict[str, Any], auth: str) -> list[str]:
        """The role settings that differ from what the provisioner sets (a role made or changed by hand)."""
        wanted: dict[str, Any] = {
            "token_policies": [self.layout.tenant_policy],
            "token_no_default_policy": True,
            "token_period": 0,
            "token_num_uses": 0,
            "token_ttl": _seconds(tenant_vault.TOKEN_TTL),
            "token_max_ttl": _seconds(tenant_vault.TOKEN_MAX_TTL),
        }
        if auth == "approle":
            cidrs = self.layout.instance_cidrs.split(",")
            wanted |= {
                "bind_secret_id": True,
                "secret_id_ttl": _seconds(tenant_vault.SECRET_ID_TTL),
                "secret_id_num_uses": int(tenant_vault.SECRET_ID_NUM_USES),
                "secret_id_bound_cidrs": cidrs,
                # Vault shows a single-address token binding without its /32 (or /128).
                "token_bound_cidrs": [cidr.removesuffix("/32").removesuffix("/128") for cidr in cidrs],
            }
        return sorted(name for name, value in wanted.items() if role.get(name) != value)


# -- administration of a Vault we own (the local OpenBao) -------------------------------------------------


@dataclass(frozen=True)
class AppRoleLogin:
    role_id: str
    secret_id: str

    def __repr__(self) -> str:
        return f"AppRoleLogin(role_id={self.role_id!r}, secret_id='**********')"


def bootstrap_fingerprint(layout: VaultLayout) -> str:
    """What `bootstrap` installs, summed up: the policy templates, the layout and the tenant roles' lifetimes. A
    local platform bootstraps again when it changes (a new checkout with other policies)."""
    digest = hashlib.sha256()
    for template in ("tenant.hcl.tmpl", "provisioner.hcl.tmpl"):
        digest.update((policy_dir() / template).read_bytes())
    digest.update(repr(layout).encode())
    lifetimes = (
        tenant_vault.TOKEN_TTL,
        tenant_vault.TOKEN_MAX_TTL,
        tenant_vault.SECRET_ID_TTL,
        tenant_vault.SECRET_ID_NUM_USES,
    )
    digest.update(repr(lifetimes).encode())
    return digest.hexdigest()


def bootstrap(admin: hvac.Client, previous: AppRoleLogin | None, layout: VaultLayout | None = None) -> AppRoleLogin:
    """With an administrator's token, once per Vault (idempotent): engines, the two policies rendered for this
    layout, and the provisioner's own AppRole. Returns its login, reusing `previous` while it still works."""
    layout = layout or VaultLayout()
    approle_mount = layout.approle_mount
    tenant_vault.ensure_engines(
        admin,
        transit_mount=layout.transit_mount,
        approle_mount=approle_mount,
        kubernetes_mount=layout.kubernetes_mount,
    )
    accessors = {
        "approle_accessor": str(tenant_vault.auth_accessor(admin, approle_mount)),
        "kubernetes_accessor": str(tenant_vault.auth_accessor(admin, layout.kubernetes_mount)),
    }
    admin.sys.create_or_update_policy(
        name=layout.tenant_policy, policy=tenant_policy_text(**accessors, transit_mount=layout.transit_mount)
    )
    admin.sys.create_or_update_policy(name=PROVISIONER_POLICY, policy=provisioner_policy_text(layout, **accessors))
    admin.auth.approle.create_or_update_approle(
        role_name=PROVISIONER_ROLE,
        bind_secret_id=True,
        secret_id_ttl=0,
        secret_id_num_uses=0,
        token_policies=[PROVISIONER_POLICY],
        token_no_default_policy=True,
        token_ttl=3600,
        token_max_ttl=24 * 3600,
        mount_point=approle_mount,
    )
    response = admin.auth.approle.read_role_id(role_name=PROVISIONER_ROLE, mount_point=approle_mount)
    role_id = str(response["data"]["role_id"])
    if previous is not None and previous.role_id == role_id:
        try:
            response = admin.auth.approle.read_secret_id(
                role_name=PROVISIONER_ROLE, secret_id=previous.secret_id, mount_point=approle_mount
            )
            if isinstance(response, dict) and response.get("data"):
                return previous
        except hvac.exceptions.InvalidPath:
            pass
    secret = admin.auth.approle.generate_secret_id(role_name=PROVISIONER_ROLE, mount_point=approle_mount)
    return AppRoleLogin(role_id, str(secret["data"]["secret_id"]))


def login(
    addr: str,
    *,
    token: str | None = None,
    approle: AppRoleLogin | None = None,
    cacert: str | None = None,
    approle_mount: str = "approle",
) -> hvac.Client:
    client = hvac.Client(url=addr, token=token, timeout=10, verify=cacert if cacert else True)
    if token is None:
        if approle is None:
            raise ValueError("a Vault token or an AppRole login is needed")
        client.auth.approle.login(role_id=approle.role_id, secret_id=approle.secret_id, mount_point=approle_mount)
    return client
