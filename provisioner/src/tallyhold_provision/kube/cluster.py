"""The cluster, through the official Kubernetes client (its configuration, authentication and TLS), with the
requests spelled out: server-side apply is `PATCH <object path>?fieldManager=tallyhold-provision` with
`Content-Type: application/apply-patch+yaml`, never forced, so a field another manager owns comes back as a
409 conflict that is reported, not overwritten. Waiting is polling `GET`s (Job conditions, the Deployment's
rollout status as `kubectl rollout status` reads it, the namespace until it is gone)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from tallyhold_provision.backends.base import BackendError

FIELD_MANAGER = "tallyhold-provision"
# Restarts are applied by a manager of their own: the main manager's next apply, which does not carry the
# restart annotation, then leaves it alone instead of removing it.
RESTART_FIELD_MANAGER = "tallyhold-provision-restart"
APPLY = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"

# (apiVersion, kind) → (plural, namespaced): the kinds the charts and the backend apply.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Service"): ("services", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ("servicemonitors", True),
    ("monitoring.coreos.com/v1", "PrometheusRule"): ("prometheusrules", True),
}


class ApplyConflict(BackendError):
    """Another field manager owns fields we apply; we never take them over silently."""


class KubernetesUnreachable(BackendError):
    pass


def object_path(api_version: str, kind: str, name: str | None = None, namespace: str | None = None) -> str:
    try:
        plural, namespaced = RESOURCES[(api_version, kind)]
    except KeyError:
        raise BackendError(f"the backend does not apply {kind} ({api_version})") from None
    path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced:
        if not namespace:
            raise BackendError(f"{kind} {name} has no namespace")
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    return f"{path}/{name}" if name else path


def manifest_path(manifest: Mapping[str, Any]) -> str:
    metadata = manifest["metadata"]
    return object_path(manifest["apiVersion"], manifest["kind"], metadata["name"], metadata.get("namespace"))


def api_client(context: str | None) -> client.ApiClient:
    """A kube context (TALLYHOLD_PROVISIONER_KUBE_CONTEXT, from KUBECONFIG or ~/.kube/config); without one, the
    in-cluster service account when running in a pod, else the kubeconfig's current context."""
    configuration = client.Configuration()
    # Read now: the client library reads KUBECONFIG once, when it is imported.
    kubeconfig = os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]
    try:
        if context is None:
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]  # unannotated library
                return client.ApiClient(configuration)
            except ConfigException:
                pass
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]  # unannotated library
    except (ConfigException, OSError) as exc:
        raise KubernetesUnreachable(f"no Kubernetes configuration ({type(exc).__name__}: {exc})") from None
    return client.ApiClient(configuration)


@dataclass
class Cluster:
    api: client.ApiClient
    timeout: float = 300.0
    poll_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    # -- requests ------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any] | None:
        """One API call; None for 404. Other errors raise BackendError naming the call and the API's reason."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self.api.param_serialize(
            method, path, query_params=query, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self.api.call_api(*serialized, _request_timeout=30)
            response.read()  # type: ignore[no-untyped-call]  # unannotated library
            data: Any = self.api.response_deserialize(response, {"2XX": "object"}).data
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 409 and method == "PATCH" and content_type == APPLY:
                raise ApplyConflict(f"{path}: {conflicts(exc.body)}") from None
            raise BackendError(f"{method} {path}: {exc.status} {status_message(exc.body)}") from None
        except OSError as exc:
            raise KubernetesUnreachable(f"{method} {path}: the API server does not answer ({exc})") from None
        return dict(data) if isinstance(data, dict) else {}

    def apply(self, manifest: Mapping[str, Any], *, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        query = [("fieldManager", field_manager)]
        applied = self.request("PATCH", manifest_path(manifest), body=dict(manifest), query=query, content_type=APPLY)
        if applied is None:  # the namespace (or the kind) does not exist
            metadata = manifest["metadata"]
            raise BackendError(f"cannot apply {manifest['kind']} {metadata['name']}: not found (namespace or CRD)")
        return applied

    def get(self, path: str) -> dict[str, Any] | None:
        return self.request("GET", path)

    def delete(self, path: str) -> bool:
        """Deletes with background propagation (dependents are collected by the cluster); False when absent."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        return self.request("DELETE", path, body=body) is not None

    # -- waiting -------------------------------------------------------------------------------------

    def _wait(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while not check():
            if time.monotonic() > deadline:
                raise BackendError(f"{what} did not finish within {self.timeout:.0f} s")
            self.sleep(self.poll_seconds)

    def wait_gone(self, path: str, what: str) -> None:
        self._wait(what, lambda: self.get(path) is None)

    def wait_job(self, path: str) -> None:
        def done() -> bool:
            job = self.get(path)
            if job is None:
                raise BackendError(f"{path} disappeared while it ran")
            for condition in (job.get("status") or {}).get("conditions") or []:
                if condition.get("status") != "True":
                    continue
                if condition.get("type") == "Complete":
                    return True
                if condition.get("type") == "Failed":
                    reason = condition.get("reason") or "Failed"
                    raise BackendError(f"{path} failed ({reason}); its pod's log says why")
            return False

        self._wait(path, done)

    def wait_rollout(self, path: str) -> None:
        self._wait(f"the rollout of {path}", lambda: rollout_done(self.get(path), path))

    def restart(self, manifest: Mapping[str, Any]) -> None:
        """`kubectl rollout restart`: a new pod template annotation, applied by a manager of its own."""
        metadata = manifest["metadata"]
        now = datetime.now(UTC).isoformat(timespec="seconds")
        patch = {
            "apiVersion": manifest["apiVersion"],
            "kind": manifest["kind"],
            "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
            "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}},
        }
        self.apply(patch, field_manager=RESTART_FIELD_MANAGER)


def rollout_done(deployment: Mapping[str, Any] | None, path: str) -> bool:
    """`kubectl rollout status`: the controller saw this generation, every replica is updated and available,
    and no old one is left; a Progressing condition with ProgressDeadlineExceeded fails."""
    if deployment is None:
        raise BackendError(f"{path} does not exist")
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise BackendError(f"{path} made no progress (ProgressDeadlineExceeded); see its pods' events")
    generation = deployment.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return False
    wanted = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    return bool(
        updated >= wanted and status.get("replicas", 0) <= updated and status.get("availableReplicas", 0) >= updated
    )


def status_message(body: str | None) -> str:
    """The API's Status message (it names the object and the reason; our requests carry no secret in a way
    the API would echo, and Secret bodies are never quoted by it)."""
    try:
        status = json.loads(body or "")
    except ValueError:
        return "(no Status body)"
    return str(status.get("message") or status.get("reason") or "")[:300] if isinstance(status, dict) else ""


def conflicts(body: str | None) -> str:
    try:
        status = json.loads(body or "")
    except ValueError:
        return "conflict"
    causes = (status.get("details") or {}).get("causes") or [] if isinstance(status, dict) else []
    described = [f"{cause.get('field', '?')} ({cause.get('message', '')})" for cause in causes]
    fields = "; ".join(described) or status_message(body)
    return (
        f"fields owned by another manager: {fields}. tallyhold-provision never forces: give them back "
        "(or remove that manager's entries from managedFields) and run the command again"
    )
