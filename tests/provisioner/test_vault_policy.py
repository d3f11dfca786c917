"""The provisioner's own Vault identity (deploy/vault/provisioner.hcl.tmpl) manages tenant keys and tenant roles,
and cannot escalate: no policy writes, no role with another policy or any other shape
than the pinned one, no role id that names a non-tenant key, no key outside `t_*`/`t-*`, no exportable key, no
decrypt, no secret id it could use without anybody noticing (only response-wrapped, never a custom one).

Every refused parameter is sent in each form Vault accepts for it (a string, a comma-separated list, a JSON
list; a JSON boolean or number and its string) inside an otherwise valid, complete request, wrapped where the
policy requires wrapping: the only reason for the refusal is the parameter itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials.context import b64encode, derivation_context
from tallyhold_provision import tenant_vault
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.tenant_vault import TENANT_POLICY, TenantVault
from tallyhold_provision.vault import Vault
from tests.fixtures.provisioner import ControlPlane
from tests.fixtures.vault import unwrap_secret_id

ESCALATION = 'path "*" { capabilities = ["sudo", "create", "read", "update", "delete"] }'
WRAP = "60s"


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
def kubernetes_tenant(control_plane: ControlPlane, tenant: TenantNames) -> TenantNames:
    control_plane.vault().ensure_tenant(tenant, "kubernetes")
    return tenant


@pytest.fixture(scope="module")
def provisioner_client(control_plane: ControlPlane) -> hvac.Client:
    return control_plane.vault().client


def test_the_provisioner_can_do_its_job(control_plane: ControlPlane, tenant: TenantNames) -> None:
    vault: Vault = control_plane.vault()
    vault.retire_secret_ids(tenant, keep="")  # left by the other tests, in whatever order they ran
    assert vault.health(tenant).healthy
    record = vault.ensure_secret_id(tenant, None)
    assert vault.ensure_secret_id(tenant, record) == record  # a fresh, still unwrappable one is kept
    assert "wrapping_token" not in repr(record)
    # Only the wrapping token's holder gets the secret id, once; it logs in from 127.0.0.1 only.
    secret_id = unwrap_secret_id(control_plane.openbao.addr, record.wrapping_token)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        unwrap_secret_id(control_plane.openbao.addr, record.wrapping_token)
    client = hvac.Client(url=control_plane.openbao.addr, token="", timeout=10)
    login = client.auth.approle.login(role_id=tenant.customer_id, secret_id=secret_id)
    assert login["auth"]["policies"] == [TENANT_POLICY]
    lookup = control_plane.openbao.admin_client().write_data(
        f"auth/approle/role/{tenant.vault_role}/secret-id/lookup", data={"secret_id": secret_id}
    )["data"]
    assert lookup["secret_id_num_uses"] == int(tenant_vault.SECRET_ID_NUM_USES) - 1
    assert lookup["cidr_list"] in ([], None) or lookup["cidr_list"] == ["127.0.0.1/32"]
    role = control_plane.openbao.admin_client().read(f"auth/approle/role/{tenant.vault_role}")["data"]
    assert role["secret_id_bound_cidrs"] == ["127.0.0.1/32"]
    assert role["token_bound_cidrs"] == ["127.0.0.1"]  # Vault shows a /32 token binding as the address
    # Another secret id of the role (made by an administrator) is retired; the instance's stays.
    control_plane.openbao.admin_client().auth.approle.generate_secret_id(role_name=tenant.vault_role)
    assert vault.retire_secret_ids(tenant, keep=record.accessor) == 1
    client.auth.approle.login(role_id=tenant.customer_id, secret_id=secret_id)


def test_a_secret_id_is_replaced_when_its_instance_cannot_use_it(
    control_plane: ControlPlane, tenant: TenantNames
) -> None:
    vault = control_plane.vault()
    addr = control_plane.openbao.addr
    # Unwrapped and used by its instance: kept.
    used = vault.ensure_secret_id(tenant, None)
    hvac.Client(url=addr, token="").auth.approle.login(tenant.customer_id, unwrap_secret_id(addr, used.wrapping_token))
    assert vault.ensure_secret_id(tenant, used) == used
    # Destroyed (or expired): replaced.
    control_plane.openbao.admin_client().write_data(
        f"auth/approle/role/{tenant.vault_role}/secret-id-accessor/destroy", data={"secret_id_accessor": used.accessor}
    )
    assert vault.ensure_secret_id(tenant, used).accessor != used.accessor
    # Never used, and its wrapping token no longer unwraps (the instance never got it): replaced.
    lost = vault.ensure_secret_id(tenant, None)
    unwrap_secret_id(addr, lost.wrapping_token)
    assert vault.ensure_secret_id(tenant, lost).accessor != lost.accessor


def test_a_secret_id_the_provisioner_minted_for_itself_is_reported_and_retired(
    control_plane: ControlPlane, tenant: TenantNames
) -> None:
    vault = control_plane.vault()
    addr = control_plane.openbao.addr
    instance = vault.ensure_secret_id(tenant, None)
    vault.retire_secret_ids(tenant, keep=instance.accessor)
    assert vault.health(tenant, secret_id_accessor=instance.accessor).healthy
    # A compromised provisioner's login: a wrapped secret id of the tenant's role, which it unwraps itself and
    # logs in with as the tenant from the instances' address. The instance's own secret id keeps working.
    extra = tenant_vault.wrapped_secret_id(vault.client, TenantVault.for_customer(tenant.customer_id))
    stolen = str(vault.client.sys.unwrap(token=extra.wrapping_token)["data"]["secret_id"])
    hvac.Client(url=addr, token="").auth.approle.login(tenant.customer_id, stolen)

    health = vault.health(tenant, secret_id_accessor=instance.accessor)
    assert (health.healthy, health.state) == (False, "misconfigured")
    assert health.detail == "extra secret ids: 1 besides the instance's own"
    assert not vault.health(tenant).healthy  # no instance secret id recorded: every one is extra

    assert vault.retire_secret_ids(tenant, keep=instance.accessor) == 1  # what create/upgrade/resume do
    assert vault.health(tenant, secret_id_accessor=instance.accessor).healthy
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac.Client(url=addr, token="").auth.approle.login(tenant.customer_id, stolen)


def test_a_role_changed_by_hand_is_reported_and_repaired(control_plane: ControlPlane, tenant: TenantNames) -> None:
    vault = control_plane.vault()
    vault.retire_secret_ids(tenant, keep="")  # the other tests' secret ids are not what this one is about
    admin = control_plane.openbao.admin_client()
    path = f"auth/approle/role/{tenant.vault_role}"
    admin.write_data(path, data={"token_period": "8760h", "secret_id_num_uses": "0", "token_no_default_policy": False})
    health = vault.health(tenant)
    assert (health.healthy, health.state) == (False, "misconfigured")
    assert health.detail == "auth role settings: secret_id_num_uses, token_no_default_policy, token_period"
    vault.ensure_tenant(tenant)
    assert vault.health(tenant).healthy


def _approle(tenant: TenantNames, **changed: Any) -> dict[str, Any]:
    return {**tenant_vault.approle_role(TenantVault.for_customer(tenant.customer_id), cidrs="127.0.0.1/32"), **changed}


def _kubernetes(tenant: TenantNames, **changed: Any) -> dict[str, Any]:
    names = TenantVault.for_kubernetes(tenant.customer_id)
    return {**tenant_vault.kubernetes_role(names, namespace=tenant.namespace), **changed}


# (parameter, refused values in every form): each is sent inside the otherwise exact request the provisioner
# makes, to the tenant's AppRole.
APPROLE_ESCALATIONS: list[tuple[str, Any]] = [
    *[("bind_secret_id", value) for value in (False, "false", 0)],
    *[("token_no_default_policy", value) for value in (False, "false")],
    *[
        ("token_policies", value)
        for value in ("root", f"{TENANT_POLICY},root", [TENANT_POLICY, "root"], ["root"], f"{TENANT_POLICY},default")
    ],
    *[("policies", value) for value in ("root", f"{TENANT_POLICY},root", ["root"])],
    *[("token_period", value) for value in ("8760h", "31536000", 31536000)],
    *[("period", value) for value in ("8760h", 31536000)],
    *[("token_ttl", value) for value in ("8760h", "31536000", 31536000)],
    *[("token_max_ttl", value) for value in ("0", 0, "87600h")],
    *[("token_explicit_max_ttl", value) for value in ("87600h", 0)],
    *[("token_type", value) for value in ("batch", "default-service")],
    *[("token_num_uses", value) for value in ("1000000", 1000000)],
    *[("secret_id_ttl", value) for value in ("0", 0, "87600h")],
    *[("secret_id_num_uses", value) for value in ("0", 0, 100000)],
    *[
        (name, value)
        for name in ("secret_id_bound_cidrs", "token_bound_cidrs")
        for value in ("0.0.0.0/0", "127.0.0.1/32,0.0.0.0/0", ["0.0.0.0/0"], ["127.0.0.1/32"], "")
    ],
    *[("role_id", value) for value in ("other-key", "")],
    ("local_secret_ids", True),
]

KUBERNETES_ESCALATIONS: list[tuple[str, Any]] = [
    *[("bound_service_account_names", value) for value in ("*", "tallyhold,default", ["*"], ["tallyhold"])],
    *[("bound_service_account_namespaces", value) for value in ("*", "kube-system", ["*"], ["t-x"])],
    *[("audience", value) for value in ("", "kubernetes")],
    *[("token_policies", value) for value in ("root", f"{TENANT_POLICY},root", ["root"])],
    *[("policies", value) for value in ("root", ["root"])],
    *[("token_no_default_policy", value) for value in (False, "false")],
    *[("token_period", value) for value in ("8760h", 31536000)],
    *[("token_ttl", value) for value in ("8760h", 31536000)],
    *[("token_max_ttl", value) for value in ("0", 0)],
    *[("token_type", value) for value in ("batch",)],
    *[("token_bound_cidrs", value) for value in ("0.0.0.0/0",)],
    ("bound_service_account_namespace_selector", '{"matchLabels":{}}'),
]


@pytest.mark.parametrize(("parameter", "value"), APPROLE_ESCALATIONS, ids=repr)
def test_a_tenant_approle_takes_only_the_pinned_values(
    provisioner_client: hvac.Client, tenant: TenantNames, parameter: str, value: Any
) -> None:
    data = _approle(tenant, **{parameter: value})
    with pytest.raises(hvac.exceptions.Forbidden):
        provisioner_client.write_data(f"auth/approle/role/{tenant.vault_role}", data=data, wrap_ttl=WRAP)


@pytest.mark.parametrize(("parameter", "value"), KUBERNETES_ESCALATIONS, ids=repr)
def test_a_tenant_kubernetes_role_takes_only_the_pinned_values(
    control_plane: ControlPlane,
    provisioner_client: hvac.Client,
    kubernetes_tenant: TenantNames,
    parameter: str,
    value: Any,
) -> None:
    assert control_plane.vault().health(kubernetes_tenant, "kubernetes").healthy  # the exact request is accepted
    data = _kubernetes(kubernetes_tenant, **{parameter: value})
    with pytest.raises(hvac.exceptions.Forbidden):
        provisioner_client.write_data(f"auth/kubernetes/role/{kubernetes_tenant.vault_role}", data=data)


@pytest.mark.parametrize(
    ("endpoint", "data"),
    [
        ("custom-secret-id", {"secret_id": "chosen-by-the-caller"}),
        ("custom-secret-id", {"secret_id": "chosen-by-the-caller", "ttl": "0", "num_uses": "0"}),
        ("secret-id", {"ttl": "0"}),
        ("secret-id", {"ttl": 0}),
        ("secret-id", {"num_uses": "0"}),
        ("secret-id", {"num_uses": 0}),
        ("secret-id", {"cidr_list": "0.0.0.0/0"}),
        ("secret-id", {"cidr_list": ["0.0.0.0/0"]}),
        ("secret-id", {"metadata": '{"who": "me"}'}),
        ("secret-id/lookup", {"secret_id": "guess"}),
        ("secret-id/destroy", {"secret_id": "guess"}),
    ],
    ids=repr,
)
def test_no_secret_id_of_the_callers_choosing_or_shape(
    provisioner_client: hvac.Client, tenant: TenantNames, endpoint: str, data: dict[str, Any]
) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        provisioner_client.write_data(f"auth/approle/role/{tenant.vault_role}/{endpoint}", data=data, wrap_ttl=WRAP)


@pytest.mark.parametrize("wrap", [None, "7200s", "86400s"], ids=["unwrapped", "wrapped-too-long", "wrapped-a-day"])
def test_a_secret_id_comes_only_response_wrapped_and_briefly(
    provisioner_client: hvac.Client, tenant: TenantNames, wrap: str | None
) -> None:
    with pytest.raises(hvac.exceptions.Forbidden):
        provisioner_client.write_data(f"auth/approle/role/{tenant.vault_role}/secret-id", data={}, wrap_ttl=wrap)


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
