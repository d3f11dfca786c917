"""The kubernetes backend: each customer is a namespace of its own (`t-<hex>`, the tallyhold-namespace chart:
Pod Security restricted, quota, limits, default deny, the ServiceAccount) holding one release of the tallyhold
chart. Both charts are rendered in-process (kube/render.py) and applied with server-side apply under the field
manager `tallyhold-provision` (kube/cluster.py), in Helm's order: the migration hooks first (the Job awaited),
then the release's objects, then the rollout awaited. No Helm release Secret is written, so nothing of the
values is stored in the cluster besides the objects themselves, and none of them holds a secret value except
the two Secrets applied here by reference: the instance's settings Secret (`tallyhold-database`: the database
URL, and every operator setting that may hold a credential, such as an RPC URL with a provider key, mounted as
files of TALLYHOLD_SECRETS_DIR) and the provisioner's own record of the database password
(`tallyhold-provisioner`, which the pod never mounts).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tallyhold.settings import secret_bearing_settings
from tallyhold_provision.backends.base import BackendError, Endpoint, Health
from tallyhold_provision.kube import names as kn
from tallyhold_provision.kube.cluster import Cluster, manifest_path, object_path
from tallyhold_provision.kube.render import Manifest, Rendered, deep_merge, render_chart, to_yaml
from tallyhold_provision.registry import Customer

# Settings the chart itself sets (values.schema.json refuses them in `env`; a test keeps the two lists equal).
CHART_SETTINGS = frozenset(
    "TALLYHOLD_" + name
    for name in (
        "DATABASE_URL",
        "MIGRATION_DATABASE_URL",
        "MIGRATION_ROLE",
        "DB_SCHEMA",
        "CUSTOMER_ID",
        "SECRETS_DIR",
        "ENV",
        "VAULT_ADDR",
        "VAULT_AUTH",
        "VAULT_TOKEN",
        "VAULT_ROLE_ID",
        "VAULT_SECRET_ID",
        "VAULT_K8S_ROLE",
        "VAULT_K8S_MOUNT",
        "VAULT_K8S_JWT_PATH",
        "VAULT_KEY",
        "VAULT_TRANSIT_MOUNT",
        "VAULT_APPROLE_MOUNT",
        "VAULT_CACERT",
        "HTTP_HOST",
        "HTTP_PORT",
        "METRICS_HOST",
        "METRICS_PORT",
        "TLS_UPSTREAM",
        "TLS_CERT_FILE",
        "TLS_KEY_FILE",
    )
)
# Operator settings that may hold a credential (RPC and Esplora URLs with a provider key): they go into the
# settings Secret, mounted as files of TALLYHOLD_SECRETS_DIR, never into the ConfigMap.
SECRET_SETTINGS = secret_bearing_settings() - CHART_SETTINGS
# Optional objects of the release: deleted when a later render no longer has them (ingress switched off…).
OPTIONAL = (
    ("networking.k8s.io/v1", "Ingress", kn.RELEASE),
    ("monitoring.coreos.com/v1", "ServiceMonitor", kn.RELEASE),
    ("monitoring.coreos.com/v1", "PrometheusRule", kn.RELEASE),
)
REDACTED = "<redacted: applied by create, never printed>"


@dataclass(frozen=True)
class KubeConfig:
    """What the backend needs besides the cluster; from TALLYHOLD_PROVISIONER_* (config.py)."""

    chart: Path
    namespace_chart: Path
    vault_addr: str | None = None
    vault_transit_mount: str = "transit"
    vault_auth_mount: str = "kubernetes"
    vault_audience: str = "vault"  # the Vault role requires it of the projected token
    ingress_domain: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    namespace_values: Mapping[str, Any] = field(default_factory=dict)


def load_values(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BackendError(f"cannot read the values file {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise BackendError(f"the values file {path} is not a YAML mapping")
    return data


class KubernetesBackend:
    name = "kubernetes"
    vault_auth = "kubernetes"

    def __init__(self, kube: KubeConfig, cluster: Callable[[], Cluster]) -> None:
        self.kube = kube
        # Connected on first use: `render` and the other backends' commands never need a cluster.
        self._cluster_factory = cluster
        self._cluster: Cluster | None = None

    @property
    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster = self._cluster_factory()
        return self._cluster

    # -- rendering ----------------------------------------------------------------------------------------

    def values(self, customer: Customer, env: Mapping[str, str], *, running: bool) -> dict[str, Any]:
        """The operator's values file under what makes the release this customer's (which always wins)."""
        names = customer.names
        namespace = kn.namespace(names)
        vault_addr = self.kube.vault_addr or env.get("TALLYHOLD_VAULT_ADDR")
        if not vault_addr:
            raise BackendError("set TALLYHOLD_PROVISIONER_KUBE_VAULT_ADDR (Vault's address as the pods reach it)")
        own: dict[str, Any] = {
            "customerId": names.customer_id,
            "suspended": not running,
            "serviceAccount": {"create": False, "name": kn.SERVICE_ACCOUNT},
            "database": {"existingSecret": kn.DATABASE_SECRET, "urlKey": kn.DATABASE_URL_KEY},
            "vault": {
                "addr": vault_addr,
                "transitMount": self.kube.vault_transit_mount,
                "authMount": self.kube.vault_auth_mount,
                "key": kn.transit_key(names),
                "role": kn.vault_role(names),
                "audience": self.kube.vault_audience,
            },
            "env": {k: v for k, v in sorted(env.items()) if k not in CHART_SETTINGS | SECRET_SETTINGS},
            "secretSettings": sorted(_secret_settings(env)),
            # Rolls the pod when a value in the Secret changes (settings are read once at start-up). The digest
            # covers the database URL's random password too, so it tells nothing about the other values.
            "settingsChecksum": hashlib.sha256(
                json.dumps(self._settings_data(env), sort_keys=True).encode()
            ).hexdigest(),
        }
        if self.kube.ingress_domain:
            own["ingress"] = {"enabled": True, "host": f"{namespace}.{self.kube.ingress_domain}"}
            own["tls"] = {"mode": "ingress"}
        return deep_merge(self.kube.values, own)

    def render_namespace(self, customer: Customer) -> Rendered:
        values = deep_merge(
            self.kube.namespace_values,
            {"customerId": customer.names.customer_id, "serviceAccountName": kn.SERVICE_ACCOUNT},
        )
        namespace = kn.namespace(customer.names)
        return render_chart(self.kube.namespace_chart, values, release=kn.NAMESPACE_RELEASE, namespace=namespace)

    def render_release(self, customer: Customer, env: Mapping[str, str], *, running: bool) -> Rendered:
        namespace = kn.namespace(customer.names)
        values = self.values(customer, env, running=running)
        return render_chart(self.kube.chart, values, release=kn.RELEASE, namespace=namespace)

    @staticmethod
    def _settings_data(env: Mapping[str, str]) -> dict[str, str]:
        return {kn.DATABASE_URL_KEY: env.get(kn.DATABASE_URL_KEY, ""), **_secret_settings(env)}

    def settings_secret(self, customer: Customer, env: Mapping[str, str]) -> Manifest:
        """The instance's database URL and its settings that may hold a credential, one key (file) each."""
        return _secret(kn.namespace(customer.names), kn.DATABASE_SECRET, self._settings_data(env))

    def render(self, customer: Customer, env: dict[str, str]) -> str:
        """Everything `create` applies, in its order, with the Secrets' values redacted."""
        namespace = self.render_namespace(customer)
        release = self.render_release(customer, env, running=True)
        redacted = dict.fromkeys(self._settings_data(env), REDACTED)
        secret = _secret(kn.namespace(customer.names), kn.DATABASE_SECRET, redacted, raw=True)
        header = (
            f"# Customer {customer.names.customer_id}: namespace {kn.namespace(customer.names)}, applied with "
            "server-side apply (field manager tallyhold-provision) in this order.\n"
            f"# Secret {kn.PROVISIONER_SECRET} (the provisioner's record of the database password) is applied "
            "too and never printed.\n"
        )
        return header + to_yaml([*namespace.objects, secret, *release.hooks, *release.objects])

    # -- secrets -------------------------------------------------------------------------------------------

    def load_secrets(self, customer: Customer) -> dict[str, str]:
        namespace = kn.namespace(customer.names)
        secret = self.cluster.get(object_path("v1", "Secret", kn.PROVISIONER_SECRET, namespace))
        data = (secret or {}).get("data") or {}
        return {str(k): base64.b64decode(str(v)).decode() for k, v in data.items()}

    def save_secrets(self, customer: Customer, secrets: dict[str, str]) -> None:
        self._apply_namespace(customer)  # the Secret lives in the customer's namespace
        self.cluster.apply(_secret(kn.namespace(customer.names), kn.PROVISIONER_SECRET, secrets))

    # -- lifecycle -------------------------------------------------------------------------------------------

    def _apply_namespace(self, customer: Customer) -> None:
        for manifest in self.render_namespace(customer).objects:
            self.cluster.apply(manifest)

    def check_available(self) -> None:
        """The API server answers (before `create` changes anything)."""
        self.cluster.request("GET", "/version")

    def deploy(self, customer: Customer, env: dict[str, str], *, running: bool) -> Endpoint:
        cluster = self.cluster
        release = self.render_release(customer, env, running=running)
        self._apply_namespace(customer)
        cluster.apply(self.settings_secret(customer, env))
        # The migration hooks run before an install or an upgrade, not to scale to zero (suspend).
        for hook in release.hooks if running else []:  # hook-delete-policy before-hook-creation: Jobs re-created
            path = manifest_path(hook)
            if hook["kind"] == "Job" and cluster.delete(path):
                cluster.wait_gone(path, f"the previous {hook['metadata']['name']} Job's deletion")
            cluster.apply(hook)
            if hook["kind"] == "Job":
                cluster.wait_job(path)
        rendered = set()
        for manifest in release.objects:
            cluster.apply(manifest)
            rendered.add((manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]))
        namespace = kn.namespace(customer.names)
        for api_version, kind, name in OPTIONAL:
            if (api_version, kind, name) not in rendered:
                cluster.delete(object_path(api_version, kind, name, namespace))
        if running:
            cluster.wait_rollout(self._deployment_path(customer))
        return self._endpoint(customer, release)

    def _deployment_path(self, customer: Customer) -> str:
        return object_path("apps/v1", "Deployment", kn.RELEASE, kn.namespace(customer.names))

    def _endpoint(self, customer: Customer, release: Rendered) -> Endpoint:
        namespace = kn.namespace(customer.names)
        ingress = next((m for m in release.objects if m["kind"] == "Ingress"), None)
        service = f"{kn.RELEASE}.{namespace}.svc"
        url = f"https://{ingress['spec']['rules'][0]['host']}" if ingress else f"http://{service}"
        state = {"namespace": namespace, "release": kn.RELEASE}
        return Endpoint(url=url, metrics_url=f"http://{service}:9464/metrics", backend_state=state)

    def restart(self, customer: Customer) -> None:
        path = self._deployment_path(customer)
        deployment = self.cluster.get(path)
        if deployment is None:
            raise BackendError(f"{path} does not exist; run create")
        self.cluster.restart(deployment)
        self.cluster.wait_rollout(path)

    def stop(self, customer: Customer) -> None:
        """Only reached when the provisioner's Secret is gone (suspend otherwise re-applies the release with 0
        replicas). Scaling through another path would leave `.spec.replicas` to another field manager, and every
        later apply would then stop on that conflict: so nothing is scaled, and the operator is told why."""
        if self.cluster.get(self._deployment_path(customer)) is None:
            return
        raise BackendError(
            f"the Secret {kn.PROVISIONER_SECRET} of namespace {kn.namespace(customer.names)} is missing: run "
            f"`create {customer.slug} --backend kubernetes` to restore the customer, then suspend it"
        )

    def remove(self, customer: Customer) -> None:
        """Deletes the namespace and waits until the cluster has finalized it (every object in it is gone)."""
        path = object_path("v1", "Namespace", kn.namespace(customer.names))
        self.cluster.delete(path)
        self.cluster.wait_gone(path, f"the deletion of namespace {kn.namespace(customer.names)}")

    def exists(self, customer: Customer) -> bool:
        return self.cluster.get(object_path("v1", "Namespace", kn.namespace(customer.names))) is not None

    def health(self, customer: Customer) -> Health:
        try:
            deployment = self.cluster.get(self._deployment_path(customer))
        except BackendError as exc:
            return Health(False, "unreachable", str(exc))
        if deployment is None:
            return Health(False, "missing", "no Deployment in the customer's namespace")
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        wanted, ready = int(spec.get("replicas", 1)), int(status.get("readyReplicas", 0))
        if wanted == 0:
            return Health(False, "stopped", "scaled to 0")
        if ready < wanted:
            return Health(False, "unready", f"{ready}/{wanted} ready, {status.get('updatedReplicas', 0)} updated")
        return Health(True, "running", f"{ready}/{wanted} ready")


def _secret_settings(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k in SECRET_SETTINGS}


def _secret(namespace: str, name: str, values: Mapping[str, str], *, raw: bool = False) -> Manifest:
    metadata = {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "tallyhold"}}
    secret: Manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque"}
    if raw:
        secret["stringData"] = dict(values)
    else:
        secret["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(values.items())}
    return secret
