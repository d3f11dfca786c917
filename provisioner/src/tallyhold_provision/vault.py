"""The provisioner's side of Vault, over the credentials library (`tallyhold.credentials.lifecycle`).

The provisioner logs in with its own identity, whose policy is `deploy/vault/provisioner.hcl.tmpl`: tenant keys
(`t_*`) and tenant AppRoles only, never a policy. So tenants do not get a policy each: every tenant role gets
the one templated policy `tallyhold-tenant` (`deploy/vault/tenant.hcl.tmpl`, installed once by whoever
administers Vault: `bootstrap()` for the local OpenBao), which grants the key named like the login's AppRole
role id; the provisioner sets each role id to the tenant's opaque id.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import psycopg
from psycopg import sql

from tallyhold.credentials import lifecycle
from tallyhold.credentials.lifecycle import TENANT_POLICY, TenantVault
from tallyhold.credentials.rotation import rotate_and_rewrap
from tallyhold_provision.backends.base import Health
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.naming import TenantNames

PROVISIONER_POLICY = "tallyhold-provisioner"
PROVISIONER_ROLE = "tallyhold-provisioner"


def policy_dir() -> Path:
    """deploy/vault of the checkout this package runs from."""
    return checkout_root() / "deploy" / "vault"


# What may be pasted into a policy's paths and lists: a mount path or policy name, never HCL syntax.
POLICY_WORD = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


# An auth mount accessor as Vault and OpenBao issue it ("auth_approle_4a5d2b1e"); it comes from Vault's own
# sys/auth answer, and is checked all the same before it goes into a policy.
ACCESSOR = re.compile(r"^auth_approle_[0-9a-f]{8,64}$")


def render_policy(template: str, **values: str) -> str:
    """deploy/vault/<template> with the configured mounts and names filled in (every placeholder is required)."""
    bad = [
        name
        for name, value in values.items()
        if not (ACCESSOR if name == "approle_accessor" else POLICY_WORD).fullmatch(value)
    ]
    if bad:
        raise ValueError(f"not a valid Vault mount or policy name: {', '.join(sorted(bad))}")
    return Template((policy_dir() / template).read_text()).substitute(values)


def tenant_policy_text(approle_accessor: str, *, transit_mount: str = "transit") -> str:
    return render_policy("tenant.hcl.tmpl", approle_accessor=approle_accessor, transit_mount=transit_mount)


def provisioner_policy_text(
    *, transit_mount: str = "transit", approle_mount: str = "approle", tenant_policy: str = TENANT_POLICY
) -> str:
    return render_policy(
        "provisioner.hcl.tmpl", transit_mount=transit_mount, approle_mount=approle_mount, tenant_policy=tenant_policy
    )


def _loopback(addr: str) -> bool:
    host = urlsplit(addr).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class Vault:
    """`VaultPlane` over hvac with the provisioner's (restricted) token."""

    client: hvac.Client
    addr: str
    transit_mount: str = "transit"
    approle_mount: str = "approle"
    tenant_policy: str = TENANT_POLICY
    cacert: str | None = None

    def _tenant(self, names: TenantNames) -> TenantVault:
        return TenantVault(
            names.customer_id,
            key=names.transit_key,
            role=names.vault_role,
            policy=self.tenant_policy,
            transit_mount=self.transit_mount,
            approle_mount=self.approle_mount,
        )

    def _cidrs(self) -> list[str] | None:
        # A local Vault sees local instances from 127.0.0.1: bind their logins and tokens to it.
        return ["127.0.0.1/32"] if _loopback(self.addr) else None

    def ensure_tenant(self, names: TenantNames, *, cidrs: list[str] | None = None) -> None:
        """`cidrs`: where the instance logs in from when the backend knows better than the Vault address (a pod's
        network); by default the loopback address for a local Vault, nothing otherwise."""
        tenant = self._tenant(names)
        lifecycle.ensure_key(self.client, tenant)
        cidrs = cidrs or self._cidrs()
        lifecycle.ensure_approle_role(self.client, tenant, token_bound_cidrs=cidrs, secret_id_bound_cidrs=cidrs)

    def ensure_secret_id(self, names: TenantNames, current: str | None, *, cidrs: list[str] | None = None) -> str:
        if current and self._secret_id_valid(names, current):
            return current
        return str(lifecycle.new_secret_id(self.client, self._tenant(names), cidr_list=cidrs or self._cidrs()))

    def _secret_id_valid(self, names: TenantNames, secret_id: str) -> bool:
        try:
            response = self.client.auth.approle.read_secret_id(
                role_name=names.vault_role, secret_id=secret_id, mount_point=self.approle_mount
            )
        except hvac.exceptions.InvalidPath:
            return False
        return isinstance(response, dict) and bool(response.get("data"))

    def rotate(self, names: TenantNames, database_url: str, schema: str) -> int:
        with psycopg.connect(database_url, autocommit=True, application_name="tallyhold-provision.rotate") as conn:
            # Rewritten rows are written as the schema's owner, not as the admin role.
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(names.owner_role)))
            report = rotate_and_rewrap(self.client, self._tenant(names), conn, schema)
        return int(report.latest_version)

    def destroy_tenant(self, names: TenantNames) -> None:
        tenant = self._tenant(names)
        self.client.delete(f"auth/{self.approle_mount}/role/{names.vault_role}")
        if lifecycle.read_key(self.client, tenant) is not None:
            self.client.secrets.transit.update_key_configuration(
                name=tenant.key, deletion_allowed=True, mount_point=self.transit_mount
            )
            self.client.secrets.transit.delete_key(name=tenant.key, mount_point=self.transit_mount)

    def _role(self, names: TenantNames) -> dict[str, Any] | None:
        response = self.client.read(f"auth/{self.approle_mount}/role/{names.vault_role}")
        return response["data"] if isinstance(response, dict) else None

    def exists(self, names: TenantNames) -> bool:
        return lifecycle.read_key(self.client, self._tenant(names)) is not None or self._role(names) is not None

    def health(self, names: TenantNames) -> Health:
        try:
            key = lifecycle.read_key(self.client, self._tenant(names))
            role = self._role(names)
        except hvac.exceptions.VaultError:
            return Health(False, "unreachable", "Vault refused or failed the check")
        except OSError:
            return Health(False, "unreachable", "Vault does not answer")
        if key is None:
            return Health(False, "missing", "no transit key")
        wrong = [k for k, v in lifecycle.REQUIRED_KEY_SETTINGS.items() if getattr(key, k) != v]
        if wrong or key.deletion_allowed:
            return Health(False, "misconfigured", f"key settings: {', '.join(wrong) or 'deletion_allowed'}")
        if role is None:
            return Health(False, "missing", "no auth role")
        if list(role.get("token_policies") or []) != [self.tenant_policy]:
            return Health(False, "misconfigured", "the auth role has other policies")
        return Health(True, "ok", f"key version {key.latest_version}, min decryption {key.min_decryption_version}")


# -- administration of a Vault we own (the local OpenBao) -------------------------------------------------


@dataclass(frozen=True)
class AppRoleLogin:
    role_id: str
    secret_id: str

    def __repr__(self) -> str:
        return f"AppRoleLogin(role_id={self.role_id!r}, secret_id='**********')"


def bootstrap(
    admin: hvac.Client,
    previous: AppRoleLogin | None,
    *,
    transit_mount: str = "transit",
    approle_mount: str = "approle",
    tenant_policy: str = TENANT_POLICY,
) -> AppRoleLogin:
    """With an administrator's token, once per Vault (idempotent): engines, the two policies rendered for these
    mounts, and the provisioner's own AppRole. Returns its login, reusing `previous` while it still works."""
    lifecycle.ensure_engines(admin, transit_mount=transit_mount, approle_mount=approle_mount)
    accessor = admin.sys.list_auth_methods()["data"][f"{approle_mount}/"]["accessor"]
    admin.sys.create_or_update_policy(
        name=tenant_policy, policy=tenant_policy_text(accessor, transit_mount=transit_mount)
    )
    provisioner_policy = provisioner_policy_text(
        transit_mount=transit_mount, approle_mount=approle_mount, tenant_policy=tenant_policy
    )
    admin.sys.create_or_update_policy(name=PROVISIONER_POLICY, policy=provisioner_policy)
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
