"""Key lifecycle as the provisioner uses it, against the session's OpenBao: the key's
configuration, one tenant's token refused on another's key, and crypto-shredding on destroy."""

from __future__ import annotations

import base64
import subprocess

import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials import transit
from tallyhold.credentials.context import derivation_context
from tallyhold.credentials.transit import CiphertextItem, EncryptItem, VaultForbidden
from tallyhold_provision import tenant_vault
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.tenant_vault import TENANT_POLICY, KeyMisconfigured, TenantVault
from tests.fixtures.vault import destroy_vault_tenant, provision_vault_tenant


@pytest.fixture(scope="module")
def tenant_a(openbao):
    tenant = provision_vault_tenant(openbao, new_customer_id())
    yield tenant
    destroy_vault_tenant(openbao, tenant)


@pytest.fixture(scope="module")
def tenant_b(openbao):
    tenant = provision_vault_tenant(openbao, new_customer_id())
    yield tenant
    destroy_vault_tenant(openbao, tenant)


def _encrypt(client, tenant, plaintext=b"secret-value", record="rec-1", field="api_key") -> str:
    item = EncryptItem("x", derivation_context(tenant.names.customer_id, record, field), plaintext)
    [result] = transit.encrypt(client, "transit", tenant.names.key, [item])
    assert result.value is not None
    return result.value


def test_names_match_the_provisioners():
    names = TenantNames(new_customer_id())
    vault = TenantVault.for_customer(names.customer_id)
    assert (vault.key, vault.role) == (names.transit_key, names.vault_role)
    assert vault.policy == TENANT_POLICY
    with pytest.raises(ValueError, match="opaque"):
        TenantVault.for_customer("acme-corp")


def test_key_configuration(vault_admin, tenant_a):
    info = tenant_vault.read_key(vault_admin, tenant_a.names)
    assert info is not None
    assert info.type == "aes256-gcm96"
    assert info.derived is True
    assert info.exportable is False
    assert info.allow_plaintext_backup is False
    assert info.deletion_allowed is False
    assert info.convergent_encryption is False
    assert tenant_vault.transit_upsert_disabled(vault_admin)


def test_everything_converges_when_rerun(openbao, vault_admin, tenant_a):
    before = tenant_vault.read_key(vault_admin, tenant_a.names)
    again = provision_vault_tenant(openbao, tenant_a.names.customer_id)
    assert again.role_id == tenant_a.role_id
    assert tenant_vault.read_key(vault_admin, tenant_a.names) == before
    tenant_vault.ensure_engines(vault_admin)
    found = tenant_vault.exists(vault_admin, tenant_a.names)
    assert {name: found[name] for name in ("key", "approle_role", "kubernetes_role")} == {
        "key": True,
        "approle_role": True,
        "kubernetes_role": False,
    }


def test_a_deletable_key_is_made_undeletable_again(vault_admin, tenant_a):
    vault_admin.secrets.transit.update_key_configuration(tenant_a.names.key, deletion_allowed=True)
    assert tenant_vault.ensure_key(vault_admin, tenant_a.names).deletion_allowed is False


def test_an_existing_key_with_wrong_settings_is_refused(vault_admin):
    names = TenantVault.for_customer(new_customer_id())
    vault_admin.secrets.transit.create_key(names.key, derived=False)
    try:
        with pytest.raises(KeyMisconfigured, match="derived"):
            tenant_vault.ensure_key(vault_admin, names)
    finally:
        tenant_vault.destroy(vault_admin, names)


def test_the_shared_policy_grants_update_on_the_logins_own_key_paths_only(vault_admin, tenant_a):
    accessors = {name: tenant_vault.auth_accessor(vault_admin, name) for name in ("approle", "kubernetes")}
    installed = vault_admin.sys.read_policy(TENANT_POLICY)["data"]["rules"]
    key = f"{{{{identity.entity.aliases.{accessors['approle']}.name}}}}"
    namespace = f"{{{{identity.entity.aliases.{accessors['kubernetes']}.metadata.service_account_namespace}}}}"
    assert {line for line in installed.splitlines() if not line.startswith("#")} == {
        f'path "transit/encrypt/{key}" {{ capabilities = ["update"] }}',
        f'path "transit/decrypt/{key}" {{ capabilities = ["update"] }}',
        f'path "transit/rewrap/{key}" {{ capabilities = ["update"] }}',
        f'path "transit/encrypt/{namespace}" {{ capabilities = ["update"] }}',
        f'path "transit/decrypt/{namespace}" {{ capabilities = ["update"] }}',
        f'path "transit/rewrap/{namespace}" {{ capabilities = ["update"] }}',
        'path "auth/token/renew-self" { capabilities = ["update"] }',
        'path "auth/token/lookup-self" { capabilities = ["read"] }',
    }
    assert tenant_a.role_id == tenant_a.names.key  # what the template resolves the key name from


def test_tenant_identity_uses_its_own_key(tenant_a):
    client = tenant_a.login()
    ciphertext = _encrypt(client, tenant_a)
    context = derivation_context(tenant_a.names.customer_id, "rec-1", "api_key")
    [plain] = transit.decrypt(client, "transit", tenant_a.names.key, [CiphertextItem("x", context, ciphertext)])
    assert plain.value == b"secret-value"
    [rewrapped] = transit.rewrap(client, "transit", tenant_a.names.key, [CiphertextItem("x", context, ciphertext)])
    assert rewrapped.ok
    assert client.auth.token.lookup_self()["data"]["policies"] == [tenant_a.names.policy]
    client.auth.token.renew_self()


def test_tenant_identity_cannot_use_another_tenants_key(vault_admin, tenant_a, tenant_b):
    client = tenant_a.login()
    ciphertext_b = _encrypt(vault_admin, tenant_b)
    context_b = derivation_context(tenant_b.names.customer_id, "rec-1", "api_key")
    item = CiphertextItem("x", context_b, ciphertext_b)
    with pytest.raises(VaultForbidden):
        transit.encrypt(client, "transit", tenant_b.names.key, [EncryptItem("x", context_b, b"x")])
    with pytest.raises(VaultForbidden):
        transit.decrypt(client, "transit", tenant_b.names.key, [item])
    with pytest.raises(VaultForbidden):
        transit.rewrap(client, "transit", tenant_b.names.key, [item])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "transit/keys/{key}/rotate"),
        ("post", "transit/keys/{key}/config"),
        ("get", "transit/keys/{key}"),
        ("get", "transit/export/encryption-key/{key}"),
        ("get", "transit/backup/{key}"),
        ("post", "transit/keys/{key}/trim"),
        ("delete", "transit/keys/{key}"),
        ("post", "transit/keys/{key}x"),
        ("post", "transit/encrypt/{key}x"),
        ("list", "transit/keys"),
        ("get", "sys/policy/{policy}"),
        ("post", "sys/policy/{policy}"),
        ("get", "auth/approle/role/{role}/role-id"),
        ("post", "auth/approle/role/{role}/secret-id"),
        ("post", "auth/token/create"),
    ],
)
def test_tenant_identity_cannot_manage_its_key_or_itself(tenant_a, method, path):
    names = tenant_a.names
    client = tenant_a.login()
    url = "/v1/" + path.format(key=names.key, policy=names.policy, role=names.role)
    payload = {"json": {"plaintext": "eA==", "context": "eA==", "policy": "x"}} if method == "post" else {}
    with pytest.raises(hvac.exceptions.Forbidden):
        getattr(client.adapter, method)(url, **payload)


def _self_signed_pem(directory) -> str:
    key, cert = directory / "ca.key", directory / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=kubernetes", "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert.read_text())


def test_kubernetes_role_binds_one_service_account(vault_admin, tmp_path):
    names = TenantVault.for_kubernetes(new_customer_id(), kubernetes_mount="k8s-test")
    assert names.key == names.customer_id.replace("_", "-")  # named like the namespace
    tenant_vault.ensure_kubernetes_auth(
        vault_admin, kubernetes_host="https://127.0.0.1:6443", kubernetes_ca_cert=_self_signed_pem(tmp_path),
        mount="k8s-test",
    )  # fmt: skip
    tenant_vault.ensure_kubernetes_role(vault_admin, names, namespace=names.key)
    try:
        role = vault_admin.read(f"auth/k8s-test/role/{names.role}")["data"]
        assert role["bound_service_account_names"] == ["tallyhold"]
        assert role["bound_service_account_namespaces"] == [names.key]
        assert role["audience"] == "vault"
        assert role["token_policies"] == [names.policy]
        assert role["token_no_default_policy"] is True
        assert tenant_vault.exists(vault_admin, names)["kubernetes_role"] is True
    finally:
        tenant_vault.destroy(vault_admin, names)
    assert tenant_vault.exists(vault_admin, names)["kubernetes_role"] is False


def test_destroy_crypto_shreds_and_is_idempotent(openbao, vault_admin):
    tenant = provision_vault_tenant(openbao, new_customer_id())
    ciphertext = _encrypt(vault_admin, tenant, b"gone-forever")
    context = derivation_context(tenant.names.customer_id, "rec-1", "api_key")
    live = tenant.login()  # a live token, and the identity entity its login made
    assert tenant_vault.exists(vault_admin, tenant.names)["identity"] is True
    assert tenant_vault.exists(vault_admin, tenant.names)["tokens"] is True
    destroy_vault_tenant(openbao, tenant)
    destroy_vault_tenant(openbao, tenant)
    assert tenant_vault.exists(vault_admin, tenant.names) == dict.fromkeys(
        ("key", "approle_role", "kubernetes_role", "identity", "tokens"), False
    )
    with pytest.raises(hvac.exceptions.Forbidden):  # revoked
        live.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        vault_admin.secrets.transit.decrypt_data(tenant.names.key, ciphertext=ciphertext, context=context)
    with pytest.raises(hvac.exceptions.InvalidRequest):  # the AppRole is gone too
        hvac.Client(url=openbao.addr, token="").auth.approle.login(tenant.role_id, tenant.secret_id)
    # A new key under the same name is new key material: the old ciphertext still never decrypts.
    tenant_vault.ensure_key(vault_admin, tenant.names)
    try:
        [result] = transit.decrypt(vault_admin, "transit", tenant.names.key, [CiphertextItem("x", context, ciphertext)])
        assert result.error == "authentication_failed"
    finally:
        tenant_vault.destroy(vault_admin, tenant.names)
    assert base64.b64encode(b"gone-forever").decode() not in openbao.audit_log.read_text()
