"""Kubernetes auth end to end against real OpenBao: the tenant's role binds one ServiceAccount in one namespace
with the `vault` audience, and the instance re-reads its projected token file at every login.

Kubernetes cannot run here, so OpenBao's TokenReview call goes to a small HTTPS server speaking the
`authentication.k8s.io/v1` TokenReview API (the only part of Kubernetes that Vault's login uses): it
authenticates exactly the tokens it issued, like the API server does for projected ServiceAccount tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
from prometheus_client import REGISTRY

from tallyhold.credentials.context import b64encode
from tallyhold.credentials.transit import CiphertextItem, EncryptItem
from tallyhold_provision import tenant_vault
from tallyhold_provision.naming import new_customer_id
from tallyhold_provision.tenant_vault import TenantVault
from tests.fixtures.instance import instance_settings
from tests.fixtures.token_review import TokenReviewApi
from tests.fixtures.vault import install_tenant_policy, start_cipher


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory) -> Iterator[TokenReviewApi]:
    api = TokenReviewApi(tmp_path_factory.mktemp("k8s"))
    yield api
    api.close()


def _kubernetes_tenant(admin: hvac.Client) -> TenantVault:
    """A Kubernetes tenant as the provisioner makes it: key named like its namespace, role named after its id,
    bound to the ServiceAccount `tallyhold` there, under the one shared templated policy."""
    names = TenantVault.for_kubernetes(new_customer_id())
    install_tenant_policy(admin, names)
    tenant_vault.ensure_key(admin, names)
    tenant_vault.ensure_kubernetes_role(admin, names, namespace=names.key)
    return names


@pytest.fixture(scope="module")
def k8s_tenants(vault_admin, apiserver):
    tenant_vault.ensure_kubernetes_auth(
        vault_admin, kubernetes_host=apiserver.host, kubernetes_ca_cert=apiserver.cert.read_text()
    )
    pair = (_kubernetes_tenant(vault_admin), _kubernetes_tenant(vault_admin))
    yield pair
    for names in pair:
        tenant_vault.destroy(vault_admin, names)


@pytest.fixture(scope="module")
def k8s_tenant(k8s_tenants):
    return k8s_tenants[0]


def _settings(tenant, openbao, names, jwt_path: Path):
    return instance_settings(
        tenant,
        CUSTOMER_ID=names.customer_id,
        VAULT_ADDR=openbao.addr,
        VAULT_AUTH="kubernetes",
        VAULT_K8S_ROLE=names.role,
        VAULT_K8S_JWT_PATH=str(jwt_path),
        VAULT_KEY=names.key,
    )


async def test_login_rereads_the_projected_token_at_every_login(
    openbao, vault_admin, tenant, apiserver, k8s_tenant, tmp_path
):
    jwt_path = tmp_path / "token"
    first = apiserver.issue(k8s_tenant.key)
    jwt_path.write_text(first)
    vault, cipher = await start_cipher(_settings(tenant, openbao, k8s_tenant, jwt_path))
    try:
        assert vault.available
        context = cipher.context(uuid.uuid4(), "api_key")
        [encrypted] = await cipher.encrypt([EncryptItem("x", context, b"via-kubernetes")])
        assert encrypted.value is not None
        assert apiserver.reviewed[-1] == first
        identity = vault.client.auth.token.lookup_self()["data"]
        assert identity["policies"] == [k8s_tenant.policy]
        assert identity["meta"]["service_account_namespace"] == k8s_tenant.key

        # The kubelet rotated the projected token; the old one is gone. The next login must use the new file.
        second = apiserver.issue(k8s_tenant.key)
        jwt_path.write_text(second + "\n")
        del apiserver.issued[first]
        logins = REGISTRY.get_sample_value("tallyhold_vault_logins_total", {"method": "kubernetes", "outcome": "ok"})
        vault_admin.auth.token.revoke(vault.client.token)  # forces a re-login at the next call
        [decrypted] = await cipher.decrypt([CiphertextItem("x", context, encrypted.value)])
        assert decrypted.value == b"via-kubernetes"
        assert apiserver.reviewed[-1] == second
        after = REGISTRY.get_sample_value("tallyhold_vault_logins_total", {"method": "kubernetes", "outcome": "ok"})
        assert after == (logins or 0) + 1
    finally:
        await vault.aclose()


@pytest.mark.parametrize(
    ("namespace_of", "account", "audience"),
    [
        ("stranger", "tallyhold", "vault"),
        ("other tenant", "tallyhold", "vault"),
        ("own", "default", "vault"),
        ("own", "tallyhold", "kubernetes"),
    ],
)
async def test_only_the_bound_service_account_with_the_vault_audience_gets_in(
    openbao, tenant, apiserver, k8s_tenants, tmp_path, namespace_of, account, audience
):
    k8s_tenant, other = k8s_tenants
    namespace = {"own": k8s_tenant.key, "other tenant": other.key, "stranger": "t-" + new_customer_id()[2:]}[
        namespace_of
    ]
    jwt_path = tmp_path / "token"
    jwt_path.write_text(apiserver.issue(namespace, account, audience))
    vault, cipher = await start_cipher(_settings(tenant, openbao, k8s_tenant, jwt_path))
    try:
        assert not vault.available
        assert await cipher.probe() == "denied"
    finally:
        await vault.aclose()


def test_a_namespace_uses_its_own_key_and_nothing_of_another(vault_admin, openbao, apiserver, k8s_tenants):
    """Two Kubernetes tenants under the one shared policy: A's ServiceAccount encrypts and decrypts with A's key
    (named like A's namespace, resolved from the login's verified namespace) and is refused B's key."""
    a, b = k8s_tenants
    client = hvac.Client(url=openbao.addr, token="", timeout=10)
    client.auth.kubernetes.login(role=a.role, jwt=apiserver.issue(a.key))
    assert client.auth.token.lookup_self()["data"]["policies"] == [a.policy]
    context = b64encode(b"v1|ctx")
    ciphertext = client.secrets.transit.encrypt_data(name=a.key, plaintext=b64encode(b"mine"), context=context)
    value = ciphertext["data"]["ciphertext"]
    decrypted = client.secrets.transit.decrypt_data(name=a.key, ciphertext=value, context=context)
    assert decrypted["data"]["plaintext"] == b64encode(b"mine")
    theirs = vault_admin.secrets.transit.encrypt_data(name=b.key, plaintext=b64encode(b"theirs"), context=context)
    refused: list[Callable[[], object]] = [
        lambda: client.secrets.transit.encrypt_data(name=b.key, plaintext=b64encode(b"x"), context=context),
        lambda: client.secrets.transit.decrypt_data(
            name=b.key, ciphertext=theirs["data"]["ciphertext"], context=context
        ),
        lambda: client.secrets.transit.rewrap_data(
            name=b.key, ciphertext=theirs["data"]["ciphertext"], context=context
        ),
        lambda: client.secrets.transit.read_key(name=a.key),
        lambda: client.secrets.transit.rotate_key(name=a.key),
    ]
    for call in refused:
        with pytest.raises(hvac.exceptions.Forbidden):
            call()
    # B's role does not take A's ServiceAccount either ("namespace not authorized").
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=openbao.addr, token="").auth.kubernetes.login(role=b.role, jwt=apiserver.issue(a.key))
