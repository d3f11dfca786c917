"""The Vault policies are rendered for the configured mounts: with transit and AppRole mounted elsewhere than
`transit/` and `approle/`, and another tenant policy name, the provisioner still does its whole job and a
tenant still uses its own key and no other one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials import transit
from tallyhold.credentials.context import derivation_context
from tallyhold.credentials.transit import CiphertextItem, EncryptItem, VaultForbidden
from tallyhold_provision import tenant_vault
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.vault import Vault, VaultLayout, bootstrap, login, provisioner_policy_text, tenant_policy_text
from tests.fixtures.vault import unwrap_secret_id

LAYOUT = VaultLayout(
    transit_mount="kms-transit", approle_mount="tenant-logins", kubernetes_mount="k8s-logins", tenant_policy="th-tenant"
)
MOUNTS = {"transit_mount": "kms-transit", "approle_mount": "tenant-logins", "tenant_policy": "th-tenant"}
ACCESSORS = {"approle_accessor": "auth_approle_0a1b2c3d", "kubernetes_accessor": "auth_kubernetes_0a1b2c3d"}


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpenBao]:
    """Its own OpenBao: bootstrapping installs `tallyhold-provisioner` for these mounts, which would take the
    session server's provisioner off the default ones."""
    server = LocalOpenBao(Path(tmp_path_factory.mktemp("mounts")) / "openbao")
    server.start()
    yield server
    server.stop()


def test_a_tenant_works_on_non_default_mounts(bao: LocalOpenBao) -> None:
    admin = bao.admin_client()
    provisioner = login(bao.addr, approle=bootstrap(admin, None, LAYOUT), approle_mount=MOUNTS["approle_mount"])
    vault = Vault(provisioner, bao.addr, LAYOUT)
    mine, other = TenantNames(new_customer_id()), TenantNames(new_customer_id())
    for names in (mine, other):
        vault.ensure_tenant(names)
    assert vault.health(mine).healthy
    secret_id = unwrap_secret_id(bao.addr, vault.ensure_secret_id(mine, None).wrapping_token)

    tenant = hvac.Client(url=bao.addr, token="", timeout=10)
    tenant.auth.approle.login(role_id=mine.customer_id, secret_id=secret_id, mount_point=MOUNTS["approle_mount"])
    assert tenant.auth.token.lookup_self()["data"]["policies"] == [MOUNTS["tenant_policy"]]
    context = derivation_context(mine.customer_id, "rec-1", "api_key")
    [encrypted] = transit.encrypt(tenant, MOUNTS["transit_mount"], mine.transit_key, [EncryptItem("x", context, b"v")])
    assert encrypted.value is not None
    stored = CiphertextItem("x", context, encrypted.value)
    [decrypted] = transit.decrypt(tenant, MOUNTS["transit_mount"], mine.transit_key, [stored])
    assert decrypted.value == b"v"
    with pytest.raises(VaultForbidden):
        transit.encrypt(tenant, MOUNTS["transit_mount"], other.transit_key, [EncryptItem("x", context, b"v")])

    assert tenant_vault.transit_upsert_disabled(admin, transit_mount=MOUNTS["transit_mount"])
    with pytest.raises(hvac.exceptions.InvalidPath):  # the key lives on the configured mount only
        admin.secrets.transit.read_key(name=mine.transit_key, mount_point="transit")
    for names in (mine, other):
        vault.destroy_tenant(names)
        assert not vault.exists(names)


@pytest.mark.parametrize("bad", ['transit" {} path "*', "Transit", "sys/", ""])
def test_a_mount_that_is_not_a_plain_name_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="transit_mount"):
        tenant_policy_text(*ACCESSORS.values(), transit_mount=bad)
    with pytest.raises(ValueError, match="approle_mount"):
        provisioner_policy_text(VaultLayout(approle_mount=bad), **ACCESSORS)


@pytest.mark.parametrize("bad", ['auth_approle_0a1b2c3d}}\n path "*', "auth_userpass_0a1b2c3d", "auth_approle_", ""])
def test_an_accessor_that_is_not_vaults_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="approle_accessor"):
        tenant_policy_text(bad, ACCESSORS["kubernetes_accessor"])


@pytest.mark.parametrize("bad", ['127.0.0.1/32"]', "0.0.0.0/0x", "127.0.0.1/24", "", "127.0.0.1/32,"])
def test_instance_cidrs_that_are_not_networks_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="instance_cidrs"):
        provisioner_policy_text(VaultLayout(instance_cidrs=bad), **ACCESSORS)
