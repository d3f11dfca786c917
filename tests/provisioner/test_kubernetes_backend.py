"""The kubernetes backend's calls, against the FAKE Kubernetes API server of tests/fixtures/kube_api.py (real
HTTP, the API's paths, verbs and JSON shapes; no API server can run here): server-side apply under the field
manager `tallyhold-provision`, never forced; the migration Job and the rollout awaited; conflicts reported;
the namespace deleted and waited for."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tallyhold.settings import Settings
from tallyhold_provision.backends.base import BackendError
from tallyhold_provision.kube.cluster import APPLY, ApplyConflict, Cluster, KubernetesUnreachable, api_client
from tallyhold_provision.registry import Customer, State
from tests.fixtures.kube_api import FakeKubernetesServer, kube_backend
from tests.fixtures.provisioner import ControlPlane

ACME = Customer("t_0123456789abcdef", "acme", "kubernetes", State.provisioning)
BETA = Customer("t_fedcba9876543210", "beta", "kubernetes", State.provisioning)
NAMESPACE = "t-0123456789abcdef"
CANARY = "canary-Pw-5f0c1e9a"  # the database password of these tests: must appear in no object but its Secrets
ENV = {
    "TALLYHOLD_DATABASE_URL": f"postgresql://t_0123456789abcdef_app:{CANARY}@db.internal:5432/tallyhold",
    "TALLYHOLD_LOG_LEVEL": "DEBUG",
    "TALLYHOLD_VAULT_ADDR": "http://127.0.0.1:8200",  # the provisioner's own view of Vault: not the pods'
}
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/tallyhold"
JOB = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/tallyhold-migrate"


def patched(server: FakeKubernetesServer) -> list[str]:
    return [r.path for r in server.api.requests if r.method == "PATCH"]


def test_deploy_applies_in_helms_order_and_waits(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.check_available()
    backend.save_secrets(ACME, {"database_password": CANARY})
    endpoint = backend.deploy(ACME, ENV, running=True)

    assert endpoint.url == f"https://{NAMESPACE}.tallyhold.example"
    assert endpoint.metrics_url == f"http://tallyhold.{NAMESPACE}.svc:9464/metrics"
    applies = [r for r in kube_api.api.requests if r.method == "PATCH"]
    assert applies, "nothing applied"
    for request in applies:  # server-side apply, our manager, never forced
        assert request.content_type == APPLY
        assert request.query == {"fieldManager": ["tallyhold-provision"]}
    order = patched(kube_api)
    ns = f"/api/v1/namespaces/{NAMESPACE}"
    assert order[0] == ns  # the namespace first, then its objects, then the provisioner's secret record
    net = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"
    assert order.index(f"{net}/default-deny") < order.index(f"{ns}/secrets/tallyhold-database")
    assert order.index(f"{ns}/secrets/tallyhold-database") < order.index(f"{net}/tallyhold-migrate") < order.index(JOB)
    assert order.index(JOB) < order.index(f"{ns}/configmaps/tallyhold") < order.index(DEPLOYMENT)
    # The Job was awaited before the release's objects, the rollout after them.
    paths = [(r.method, r.path) for r in kube_api.api.requests]
    job_done = max(i for i, (m, p) in enumerate(paths) if m == "GET" and p == JOB)
    assert job_done < paths.index(("PATCH", f"{ns}/configmaps/tallyhold"))
    assert paths[-1] == ("GET", DEPLOYMENT)
    deployment = kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")
    assert deployment is not None
    assert deployment["status"]["availableReplicas"] == 1
    assert [f["manager"] for f in deployment["metadata"]["managedFields"]] == ["tallyhold-provision"]
    assert backend.health(ACME).healthy
    assert backend.exists(ACME)
    assert backend.load_secrets(ACME) == {"database_password": CANARY}


def test_no_secret_value_outside_the_two_secrets(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.save_secrets(ACME, {"database_password": CANARY})
    backend.deploy(ACME, ENV, running=True)
    holding = set()
    for (plural, _namespace, name), stored in kube_api.api.objects.items():
        text = json.dumps(stored.render())
        data = stored.render().get("data", {}) if plural == "secrets" else {}
        decoded = json.dumps({k: base64.b64decode(v).decode() for k, v in data.items()})
        if CANARY in text + decoded:
            holding.add((plural, name))
    assert holding == {("secrets", "tallyhold-database"), ("secrets", "tallyhold-provisioner")}
    # And the pod mounts only the database URL, never the provisioner's record.
    spec = kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")["spec"]["template"]["spec"]  # type: ignore[index]
    secrets_mounted = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert secrets_mounted == {"tallyhold-database"}
    rendered = backend.render(ACME, ENV)
    assert CANARY not in rendered
    assert "<redacted: applied by create, never printed>" in rendered


RPC_CANARY = "canary-rpc-key-3b8e41d7"  # a provider's API key, in the path of its RPC and Esplora URLs


def test_a_provider_key_in_a_url_setting_is_only_in_the_settings_secret(
    kube_api: FakeKubernetesServer, tmp_path: Path
) -> None:
    backend = kube_backend()
    env = {
        **ENV,
        "TALLYHOLD_EVM_RPC_ETHEREUM": f"https://eth-mainnet.example/v2/{RPC_CANARY}",
        "TALLYHOLD_ESPLORA_URL": f"https://esplora.example/{RPC_CANARY}/api",
    }
    backend.save_secrets(ACME, {"database_password": CANARY})
    backend.deploy(ACME, env, running=True)
    holding = set()
    for (plural, _namespace, name), stored in kube_api.api.objects.items():
        data = stored.render().get("data", {}) if plural == "secrets" else {}
        decoded = json.dumps({k: base64.b64decode(v).decode() for k, v in data.items()})
        if RPC_CANARY in json.dumps(stored.render()) + decoded:
            holding.add((plural, name))
    assert holding == {("secrets", "tallyhold-database")}
    stored_secret = kube_api.api.get_object("secrets", NAMESPACE, "tallyhold-database")
    assert stored_secret is not None
    files = {k: base64.b64decode(v).decode() for k, v in stored_secret["data"].items()}
    assert files["TALLYHOLD_EVM_RPC_ETHEREUM"] == env["TALLYHOLD_EVM_RPC_ETHEREUM"]
    # The pod mounts them as files of TALLYHOLD_SECRETS_DIR, and the instance reads them from there.
    deployment = kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")
    assert deployment is not None
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounted = {item["path"] for item in volumes["settings"]["secret"]["items"]}
    assert mounted == {"TALLYHOLD_DATABASE_URL", "TALLYHOLD_EVM_RPC_ETHEREUM", "TALLYHOLD_ESPLORA_URL"}
    for name, value in files.items():
        (tmp_path / name).write_text(value)
    settings = Settings(SECRETS_DIR=tmp_path, ENV="test", DB_SCHEMA=ACME.id, CUSTOMER_ID=ACME.id)
    assert str(settings.chains.evm_rpc.ethereum) == env["TALLYHOLD_EVM_RPC_ETHEREUM"]
    assert str(settings.chains.esplora_url) == env["TALLYHOLD_ESPLORA_URL"]
    # A changed URL rolls the pod (the Secret's values are read once at start-up).
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"]
    changed = {**env, "TALLYHOLD_ESPLORA_URL": "https://esplora.example/other/api"}
    release = backend.render_release(ACME, changed, running=True).objects
    rolled = next(m for m in release if m["kind"] == "Deployment")
    assert rolled["spec"]["template"]["metadata"]["annotations"]["checksum/settings"] != checksum
    # `render` shows the keys of the Secret, never their values.
    rendered = backend.render(ACME, env)
    assert RPC_CANARY not in rendered
    assert CANARY not in rendered
    shown = next(d for d in yaml.safe_load_all(rendered) if d["kind"] == "Secret")["stringData"]
    assert shown == dict.fromkeys(mounted, "<redacted: applied by create, never printed>")


def test_a_field_owned_by_another_manager_is_a_reported_conflict(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.deploy(ACME, ENV, running=True)
    cluster = Cluster(api_client("fake"))
    theirs = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tallyhold", "namespace": NAMESPACE},
              "spec": {"replicas": 3}}  # fmt: skip
    # `kubectl scale`-like: another manager takes .spec.replicas over (forced: it is not us).
    query = [("fieldManager", "kubectl"), ("force", "true")]
    cluster.request("PATCH", DEPLOYMENT, body=theirs, query=query, content_type=APPLY)
    forced = len(kube_api.api.requests)
    with pytest.raises(ApplyConflict) as raised:
        backend.deploy(ACME, ENV, running=True)
    message = str(raised.value)
    assert ".spec.replicas" in message
    assert '"kubectl"' in message
    assert "never forces" in message
    assert all("force" not in r.query for r in kube_api.api.requests[forced:])
    assert kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")["spec"]["replicas"] == 3  # type: ignore[index]


def test_a_failed_migration_stops_before_the_release(kube_api: FakeKubernetesServer) -> None:
    kube_api.api.fail_jobs = True
    with pytest.raises(BackendError, match="BackoffLimitExceeded"):
        kube_backend().deploy(ACME, ENV, running=True)
    assert kube_api.api.get_object("deployments", NAMESPACE, "tallyhold") is None


def test_a_stalled_rollout_fails(kube_api: FakeKubernetesServer) -> None:
    kube_api.api.stall_rollouts = True
    with pytest.raises(BackendError, match="ProgressDeadlineExceeded"):
        kube_backend().deploy(ACME, ENV, running=True)


def test_upgrade_reruns_the_migration_job_and_restart_rolls(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.deploy(ACME, ENV, running=True)
    first = kube_api.api.get_object("jobs", NAMESPACE, "tallyhold-migrate")
    backend.deploy(ACME, {**ENV, "TALLYHOLD_LOG_LEVEL": "INFO"}, running=True)
    second = kube_api.api.get_object("jobs", NAMESPACE, "tallyhold-migrate")
    assert first
    assert second
    assert first["metadata"]["uid"] != second["metadata"]["uid"]
    assert ("DELETE", JOB) in [(r.method, r.path) for r in kube_api.api.requests]
    generation = kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")["metadata"]["generation"]  # type: ignore[index]
    assert generation == 2  # the changed setting changed the pod template (config checksum)

    backend.restart(ACME)
    deployment = kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")
    assert deployment is not None
    assert deployment["metadata"]["generation"] == 3
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    managers = {f["manager"] for f in deployment["metadata"]["managedFields"]}
    assert managers == {"tallyhold-provision", "tallyhold-provision-restart"}
    backend.deploy(ACME, ENV, running=True)  # the restart's annotation does not conflict with the next apply


def test_suspend_scales_to_zero_without_migrating(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.deploy(ACME, ENV, running=True)
    jobs_before = sum(1 for r in kube_api.api.requests if r.method == "PATCH" and r.path == JOB)
    backend.deploy(ACME, ENV, running=False)
    assert kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")["spec"]["replicas"] == 0  # type: ignore[index]
    assert sum(1 for r in kube_api.api.requests if r.method == "PATCH" and r.path == JOB) == jobs_before
    assert backend.health(ACME).state == "stopped"
    backend.deploy(ACME, ENV, running=True)
    assert backend.health(ACME).healthy


def test_stop_without_the_provisioners_secret_scales_nothing(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.stop(ACME)  # nothing there: nothing to do
    backend.deploy(ACME, ENV, running=True)
    with pytest.raises(BackendError, match=r"Secret tallyhold-provisioner .* is missing"):
        backend.stop(ACME)
    assert kube_api.api.get_object("deployments", NAMESPACE, "tallyhold")["spec"]["replicas"] == 1  # type: ignore[index]


def test_an_optional_object_left_out_is_deleted(kube_api: FakeKubernetesServer) -> None:
    kube_backend().deploy(ACME, ENV, running=True)
    assert kube_api.api.get_object("ingresses", NAMESPACE, "tallyhold") is not None
    values: dict[str, Any] = {"networkPolicy": {"postgres": {"cidrs": ["10.20.0.5/32"]}}, "tls": {"mode": "upstream"}}
    endpoint = kube_backend(ingress_domain=None, values=values).deploy(ACME, ENV, running=True)
    assert kube_api.api.get_object("ingresses", NAMESPACE, "tallyhold") is None
    assert endpoint.url == f"http://tallyhold.{NAMESPACE}.svc"


def test_remove_deletes_the_namespace_and_waits_until_it_is_gone(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.deploy(ACME, ENV, running=True)
    backend.deploy(BETA, ENV, running=True)
    backend.remove(ACME)
    namespace_path = f"/api/v1/namespaces/{NAMESPACE}"
    calls = [(r.method, r.path) for r in kube_api.api.requests if r.path == namespace_path]
    deleted = calls.index(("DELETE", namespace_path))
    assert calls[deleted + 1 :].count(("GET", namespace_path)) >= 2  # Terminating first, then gone
    assert not any(key[1] == NAMESPACE for key in kube_api.api.objects)
    assert not backend.exists(ACME)
    assert kube_api.api.get_object("deployments", "t-fedcba9876543210", "tallyhold") is not None  # B untouched
    backend.remove(ACME)  # idempotent
    assert backend.health(ACME).state == "missing"


def test_applying_into_a_terminating_namespace_is_refused(kube_api: FakeKubernetesServer) -> None:
    backend = kube_backend()
    backend.deploy(ACME, ENV, running=True)
    Cluster(api_client("fake")).delete(f"/api/v1/namespaces/{NAMESPACE}")
    with pytest.raises(BackendError, match="being terminated"):
        backend.deploy(ACME, ENV, running=True)


def test_a_wrong_token_is_refused(kube_api: FakeKubernetesServer) -> None:
    kube_api.api.token = "another"
    with pytest.raises(BackendError, match="401"):
        kube_backend().check_available()


def test_no_kubernetes_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubernetesUnreachable, match="no Kubernetes configuration"):
        api_client(None)
    with pytest.raises(KubernetesUnreachable):
        kube_backend(context=None).check_available()


def test_two_customers_share_no_namespace_account_vault_role_key_or_host() -> None:
    """Rendered without any cluster: nothing of one customer names anything of the other's."""
    backend = kube_backend()

    def identity(customer: Customer) -> dict[str, set[str]]:
        values = backend.values(customer, ENV, running=True)
        manifests = [
            *backend.render_namespace(customer).objects,
            *backend.render_release(customer, ENV, running=True).objects,
        ]
        return {
            "namespace": {m["metadata"].get("namespace") or m["metadata"]["name"] for m in manifests},
            "account": {f"{m['metadata']['namespace']}/{m['metadata']['name']}" for m in manifests
                        if m["kind"] == "ServiceAccount"},
            "vault": {values["vault"]["role"], values["vault"]["key"]},
            "host": {r["host"] for m in manifests if m["kind"] == "Ingress" for r in m["spec"]["rules"]},
        }  # fmt: skip

    a, b = identity(ACME), identity(BETA)
    for part in a:
        assert a[part], part
        assert b[part], part
        assert not a[part] & b[part], part
    assert a["namespace"] == {NAMESPACE}
    assert a["vault"] == {"t_0123456789abcdef", "t-0123456789abcdef"}


def test_every_command_on_the_kubernetes_backend(control_plane: ControlPlane, kube_api: FakeKubernetesServer) -> None:
    """The control plane end to end: real Postgres and OpenBao (Kubernetes role and key), the fake cluster."""
    with control_plane.provisioner() as provisioner:
        result = provisioner.create("kube-co", backend="kubernetes")
        customer = result.customer
        namespace = customer.id.replace("_", "-")
        assert result.token is not None
        assert customer.url == f"https://{namespace}.tallyhold.example"
        vault = provisioner.vault()
        assert vault.health(customer.names, "kubernetes").healthy
        stored = kube_api.api.get_object("deployments", namespace, "tallyhold")
        assert stored is not None
        config = kube_api.api.get_object("configmaps", namespace, "tallyhold")
        assert config is not None
        assert config["data"]["TALLYHOLD_VAULT_KEY"] == namespace
        assert config["data"]["TALLYHOLD_VAULT_K8S_ROLE"] == customer.id

        assert provisioner.create("kube-co", backend="kubernetes").token is None  # converged, no new token
        summary = provisioner.upgrade(["kube-co"])
        assert summary.upgraded == ["kube-co"]
        assert summary.failed == {}
        assert provisioner.rotate_key("kube-co") == 2

        provisioner.suspend("kube-co")
        assert kube_api.api.get_object("deployments", namespace, "tallyhold")["spec"]["replicas"] == 0  # type: ignore[index]
        provisioner.resume("kube-co")
        assert kube_api.api.get_object("deployments", namespace, "tallyhold")["spec"]["replicas"] == 1  # type: ignore[index]
        assert provisioner.backend("kubernetes").health(provisioner.get("kube-co")).healthy

        provisioner.destroy("kube-co")
        assert not any(key[1] == namespace for key in kube_api.api.objects)
        assert ("DELETE", f"/api/v1/namespaces/{namespace}") in [(r.method, r.path) for r in kube_api.api.requests]
        assert not vault.exists(customer.names, "kubernetes")
        assert "kube-co" not in {c.slug for c in provisioner.customers()}
