"""The Vault side of a Kubernetes customer, made and destroyed by the provisioner under its own narrow policy
(the functions the kubernetes backend calls: `Vault.ensure_tenant(names, "kubernetes")`, `health`,
`destroy_tenant`), against real OpenBao whose kubernetes auth method asks a TokenReview endpoint the tests
serve (tests/tracker/credentials/test_kubernetes_login.py: the one Kubernetes API Vault's login uses)."""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials.context import b64encode
from tallyhold_provision import tenant_vault
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.tenant_vault import TENANT_POLICY, TenantVault
from tests.fixtures.provisioner import ControlPlane
from tests.fixtures.token_review import TokenReviewApi


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane) -> Iterator[TokenReviewApi]:
    api = TokenReviewApi(tmp_path_factory.mktemp("k8s-provisioner"))
    tenant_vault.ensure_kubernetes_auth(
        control_plane.openbao.admin_client(), kubernetes_host=api.host, kubernetes_ca_cert=api.cert.read_text()
    )
    yield api
    api.close()


def test_a_kubernetes_customer_from_creation_to_destroy(control_plane: ControlPlane, apiserver: TokenReviewApi) -> None:
    vault = control_plane.vault()  # the provisioner's own, narrow, identity
    names = TenantNames(new_customer_id())
    assert names.namespace == names.customer_id.replace("_", "-")
    vault.ensure_tenant(names, "kubernetes")
    vault.ensure_tenant(names, "kubernetes")  # converges
    assert vault.health(names, "kubernetes").healthy
    admin = control_plane.openbao.admin_client()
    role = admin.read(f"auth/kubernetes/role/{names.vault_role}")["data"]
    assert role["bound_service_account_names"] == ["tallyhold"]
    assert role["bound_service_account_namespaces"] == [names.namespace]
    assert role["audience"] == "vault"
    assert role["token_policies"] == [TENANT_POLICY]

    pod = hvac.Client(url=control_plane.openbao.addr, token="", timeout=10)
    pod.auth.kubernetes.login(role=names.vault_role, jwt=apiserver.issue(names.namespace))
    context = b64encode(b"v1|ctx")
    encrypted = pod.secrets.transit.encrypt_data(name=names.namespace, plaintext=b64encode(b"k"), context=context)
    assert encrypted["data"]["ciphertext"].startswith("vault:v1:")
    tenant = TenantVault.for_kubernetes(names.customer_id)
    assert (
        tenant_vault.rotate_key(vault.client, tenant).latest_version == 2
    )  # rotation's first step, as the provisioner

    assert tenant_vault.exists(admin, tenant)["identity"] is True
    vault.destroy_tenant(names)
    vault.destroy_tenant(names)  # idempotent
    assert tenant_vault.exists(admin, tenant) == dict.fromkeys(
        ("key", "approle_role", "kubernetes_role", "identity", "tokens"), False
    )
    with pytest.raises(hvac.exceptions.Forbidden):  # its token was revoked
        pod.auth.token.lookup_self()
