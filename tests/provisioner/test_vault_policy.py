"""The provisioner's own Vault identity (deploy/vault/provisioner.hcl.tmpl) manages tenant keys and tenant roles,
and cannot escalate: no policy writes, no role with another policy, no role id that names a non-tenant key, no
key outside `t_*`, no exportable key, no decrypt (security.md §7 item 10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials.context import b64encode, derivation_context
from tallyhold.credentials.lifecycle import TENANT_POLICY
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.vault import Vault
from tests.fixtures.provisioner import ControlPlane

ESCALATION = 'path "*" { capabilities = ["sudo", "create", "read", "update", "delete"] }'


@pytest.fixture(scope="module")
def tenant(control_plane: ControlPlane) -> Iterator[TenantNames]:
    vault = control_plane.vault()
    names = TenantNames(new_customer_id())
    vault.ensure_tenant(names)
    try:
        yield names
    finally:
        vault.destroy_tenant(names)


@pytest.fixture(scope="module")
def provisioner_client(control_plane: ControlPlane) -> hvac.Client:
    return control_plane.vault().client


def test_the_provisioner_can_do_its_job(control_plane: ControlPlane, tenant: TenantNames) -> None:
    vault: Vault = control_plane.vault()
    assert vault.health(tenant).healthy
    secret_id = vault.ensure_secret_id(tenant, None)
    assert vault.ensure_secret_id(tenant, secret_id) == secret_id  # a working secret id is kept


def _attempts(client: hvac.Client, tenant: TenantNames) -> dict[str, Callable[[], Any]]:
    key = tenant.transit_key
    context = derivation_context(tenant.customer_id, "00000000-0000-0000-0000-000000000001", "api_key")
    role = f"auth/approle/role/{tenant.vault_role}"
    return {
        "write a policy": lambda: client.sys.create_or_update_policy(name="x", policy=ESCALATION),
        "overwrite the tenant policy": lambda: client.sys.create_or_update_policy(
            name=TENANT_POLICY, policy='path "*" {capabilities=["read"]}'
        ),
        "read policies": lambda: client.sys.list_acl_policies(),
        "role with root": lambda: client.write(role, token_policies=["root"]),
        "role with an extra policy": lambda: client.write(role, token_policies=[TENANT_POLICY, "default"]),
        "role with the deprecated policies field": lambda: client.write(role, policies=["root"]),
        "role policies endpoint": lambda: client.write(f"{role}/policies", token_policies=["root"]),
        "role id naming another key": lambda: client.write(f"{role}/role-id", role_id="other-key"),
        "new role with a foreign role id": lambda: client.write(
            "auth/approle/role/t_00000000000000aa", token_policies=[TENANT_POLICY], role_id="other-key"
        ),
        "role outside t_*": lambda: client.write("auth/approle/role/ops", token_policies=[TENANT_POLICY]),
        "its own role": lambda: client.write("auth/approle/role/tallyhold-provisioner", token_policies=["root"]),
        "key outside t_*": lambda: client.secrets.transit.create_key(name="other-key", derived=True),
        "read a key outside t_*": lambda: client.secrets.transit.read_key(name="other-key"),
        "exportable tenant key": lambda: client.write(
            "transit/keys/t_00000000000000bb", type="aes256-gcm96", derived=True, exportable=True
        ),
        "non-derived tenant key": lambda: client.write("transit/keys/t_00000000000000cc", derived=False),
        "make a tenant key exportable": lambda: client.write(f"transit/keys/{key}/config", exportable=True),
        "plaintext backup": lambda: client.write(f"transit/keys/{key}/config", allow_plaintext_backup=True),
        "export": lambda: client.secrets.transit.export_key(name=key, key_type="encryption-key"),
        "backup": lambda: client.secrets.transit.backup_key(name=key),
        "import key material": lambda: client.write(f"transit/keys/{key}/import", ciphertext="AAAA"),
        "encrypt with a tenant key": lambda: client.secrets.transit.encrypt_data(
            name=key, plaintext=b64encode(b"x"), context=context
        ),
        "decrypt with a tenant key": lambda: client.secrets.transit.decrypt_data(
            name=key, ciphertext="vault:v1:AAAA", context=context
        ),
        "enable an auth method": lambda: client.sys.enable_auth_method("userpass", path="escape"),
        "mount an engine": lambda: client.sys.enable_secrets_engine("kv", path="escape"),
        "create a token": lambda: client.auth.token.create(policies=["root"]),
        "write an identity": lambda: client.write("identity/entity", name="x", policies=["root"]),
        "transit config": lambda: client.write("transit/config/keys", disable_upsert=False),
    }


@pytest.mark.parametrize(
    "attempt",
    [
        "write a policy",
        "overwrite the tenant policy",
        "read policies",
        "role with root",
        "role with an extra policy",
        "role with the deprecated policies field",
        "role policies endpoint",
        "role id naming another key",
        "new role with a foreign role id",
        "role outside t_*",
        "its own role",
        "key outside t_*",
        "read a key outside t_*",
        "exportable tenant key",
        "non-derived tenant key",
        "make a tenant key exportable",
        "plaintext backup",
        "export",
        "backup",
        "import key material",
        "encrypt with a tenant key",
        "decrypt with a tenant key",
        "enable an auth method",
        "mount an engine",
        "create a token",
        "write an identity",
        "transit config",
    ],
)
def test_the_provisioner_cannot_escalate(provisioner_client: hvac.Client, tenant: TenantNames, attempt: str) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        _attempts(provisioner_client, tenant)[attempt]()


def test_the_tenant_role_still_has_only_the_tenant_policy(control_plane: ControlPlane, tenant: TenantNames) -> None:
    role = control_plane.openbao.admin_client().read(f"auth/approle/role/{tenant.vault_role}")["data"]
    assert role["token_policies"] == [TENANT_POLICY]
    assert role["token_no_default_policy"] is True
    role_id = control_plane.openbao.admin_client().read(f"auth/approle/role/{tenant.vault_role}/role-id")
    assert role_id["data"]["role_id"] == tenant.customer_id
