"""The podman backend: each customer's instance is a container in a pod of its own, on a network of its own.

The stack (podman/spec.py has its exact shape and commands): an isolated network `tallyhold-<id>` (no traffic to
another customer's network), a pod on it publishing the API and metrics ports on the operator's address
(127.0.0.1 by default), the customer's database URL and Vault secret id as podman secrets mounted 0400 for the
instance's user under /run/secrets (never variables, never labels), and the tracker container: read-only root,
/tmp the only writable place, every capability dropped, no-new-privileges, memory/CPU/pids limits, restarted
when it dies. Shared services the provisioner reaches on the loopback address (the embedded Postgres and
OpenBao, venues and chains of `make run`) are reached from the pod at `host.containers.internal`, the host's
address on the pod's network. The durable secrets stay in the state folder as for the local backend
(instances/<id>/secrets.json, 0600), which no container mounts.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.engine import make_url

from tallyhold_provision.backends.base import BackendError, BackendUnavailable, Endpoint, Health
from tallyhold_provision.local.files import read_json, write_private_json
from tallyhold_provision.local.ports import answers_healthz, new_port, port_is_free
from tallyhold_provision.podman.engine import PodmanError, available, exists, inspect, podman
from tallyhold_provision.podman.image import image_ref
from tallyhold_provision.podman.spec import (
    CONFIG_LABEL,
    SECRET_ID_FILE,
    SECRET_SETTINGS,
    UID,
    Limits,
    StackSpec,
    network_args,
)
from tallyhold_provision.registry import Customer
from tallyhold_provision.worker_slots import DEFAULT_WORKER_SLOTS, ensure_worker_slots, slot_folder

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Settings whose URLs name shared services: loopback hosts become the host's address on the pod's network.
URL_SETTINGS = ("TALLYHOLD_DATABASE_URL", "TALLYHOLD_VAULT_ADDR", "TALLYHOLD_ESPLORA_URL")
# Set by the backend: inside its pod the instance listens on every address at the image's ports.
POD_LISTEN = {
    "TALLYHOLD_HTTP_HOST": "0.0.0.0",  # noqa: S104 - the pod's own network namespace; published on the operator's address
    "TALLYHOLD_HTTP_PORT": "8080",
    "TALLYHOLD_METRICS_HOST": "0.0.0.0",  # noqa: S104 - as above
    "TALLYHOLD_METRICS_PORT": "9464",
}


class PodmanBackend:
    name = "podman"
    vault_auth = "approle"

    def __init__(
        self,
        state_dir: Path,
        *,
        publish_host: str = "127.0.0.1",
        services_host: str = "host.containers.internal",
        public_host: str | None = None,
        image: str | None = None,
        limits: Limits | None = None,
        health_timeout: float = 60.0,
        worker_slots: int = DEFAULT_WORKER_SLOTS,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.publish_host = publish_host
        self.services_host = services_host
        self.public_host = public_host or publish_host
        self.image = image or image_ref()
        self.limits = limits or Limits()
        self.health_timeout = health_timeout
        self.worker_slots = worker_slots

    # -- secrets (as the local backend keeps them) ---------------------------------------------------------

    def instance_dir(self, customer: Customer) -> Path:
        return self.state_dir / "instances" / customer.id

    def check_available(self) -> None:
        reason = available()
        if reason is not None:
            raise BackendUnavailable(reason)
        if not exists("image", self.image):
            raise BackendUnavailable(f"the image {self.image} is missing: run `make image`")

    def load_secrets(self, customer: Customer) -> dict[str, str]:
        data = read_json(self.instance_dir(customer) / "secrets.json") or {}
        return {str(k): str(v) for k, v in data.items()}

    def save_secrets(self, customer: Customer, secrets: dict[str, str]) -> None:
        directory = self.instance_dir(customer)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        write_private_json(directory / "secrets.json", secrets)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def spec(self, customer: Customer, env: dict[str, str]) -> StackSpec:
        ports = self._ports(customer)
        container_env = {key: self._reachable(key, value) for key, value in env.items()}
        container_env.update(POD_LISTEN)
        if self.publish_host in LOOPBACK_HOSTS:
            # Plain HTTP reaches the pod only from this host: the instance must not refuse it as exposed.
            container_env["TALLYHOLD_TLS_UPSTREAM"] = "true"
        container_env.pop("TALLYHOLD_VAULT_CACERT", None)  # a host path; see the README (podman backend)
        if "TALLYHOLD_VAULT_WRAPPED_SECRET_ID" in container_env:
            container_env["TALLYHOLD_VAULT_SECRET_ID_FILE"] = SECRET_ID_FILE
        secrets = {key: container_env.pop(key) for key in SECRET_SETTINGS if key in container_env}
        image_id = self._image_id()
        container_env.pop("TALLYHOLD_EGRESS_WORKER_SLOTS_DIR", None)  # a host path: the container's is SLOTS_DIR
        slots = slot_folder(self.state_dir, self.worker_slots)
        return StackSpec(
            customer_id=customer.id,
            image=self.image,
            image_id=image_id,
            publish_host=self.publish_host,
            http_port=ports["http_port"],
            metrics_port=ports["metrics_port"],
            env=container_env,
            secrets=secrets,
            limits=self.limits,
            worker_slots=str(slots) if slots is not None else None,
        )

    def deploy(self, customer: Customer, env: dict[str, str], *, running: bool) -> Endpoint:
        ensure_worker_slots(self.state_dir, self.worker_slots)
        spec = self.spec(customer, env)
        if self._current_digest(spec) != spec.digest():
            self._replace(spec)
        endpoint = self._endpoint(spec)
        if not running:
            podman("pod", "stop", "--time", "15", spec.pod)
            return endpoint
        podman("pod", "start", spec.pod)
        self._wait_healthy(spec.container, endpoint.url)
        return endpoint

    def restart(self, customer: Customer) -> None:
        container = f"tallyhold-{customer.id}-instance"
        podman("restart", "--time", "15", container)
        self._wait_healthy(container, self._url_of(customer))

    def stop(self, customer: Customer) -> None:
        if exists("pod", f"tallyhold-{customer.id}"):
            podman("pod", "stop", "--time", "15", f"tallyhold-{customer.id}")

    def remove(self, customer: Customer) -> None:
        remove_stack(customer.id)
        shutil.rmtree(self.instance_dir(customer), ignore_errors=True)

    def exists(self, customer: Customer) -> bool:
        return exists("pod", f"tallyhold-{customer.id}") or self.instance_dir(customer).exists()

    def health(self, customer: Customer) -> Health:
        container = f"tallyhold-{customer.id}-instance"
        state = self._state(container)
        if state is None:
            return Health(False, "missing", "no container (run `create` to converge it)")
        if state != "running":
            return Health(False, state, f"`podman logs {container}`")
        try:
            response = httpx.get(f"{self._url_of(customer)}/healthz", timeout=3)
        except httpx.HTTPError:
            return Health(False, "unreachable", "the container runs but /healthz does not answer")
        if response.status_code != 200:
            return Health(False, "unhealthy", f"/healthz answered {response.status_code}")
        return Health(True, "running")

    def render(self, customer: Customer, env: dict[str, str]) -> str:
        """The stack's spec and the exact podman commands `deploy` runs; secrets appear by name only."""
        return json.dumps(self.spec(customer, env).render(), indent=2) + "\n"

    # -- internals -----------------------------------------------------------------------------------------

    def _replace(self, spec: StackSpec) -> None:
        """A new pod and container with the current spec (the data lives in Postgres and Vault, not here)."""
        podman("pod", "rm", "--force", "--time", "15", "--ignore", spec.pod)
        _remove_secrets(spec.pod)
        if not exists("network", spec.network):
            podman(*_network_args(spec.customer_id))
        podman(*spec.pod_args())
        if not exists("volume", spec.volume):
            podman(*spec.volume_args())
        # The instance's user owns its volume (podman creates it root's; the `U` mount option is not applied to
        # an empty named volume by every podman version).
        mountpoint = inspect("volume", spec.volume)["Mountpoint"]
        os.chown(mountpoint, int(UID), int(UID))
        os.chmod(mountpoint, 0o700)
        for setting, value in spec.secrets.items():
            podman(*spec.secret_args(setting), stdin=value)
        podman(*spec.container_args())

    def _current_digest(self, spec: StackSpec) -> str | None:
        if not exists("container", spec.container):
            return None
        labels = inspect("container", spec.container)["Config"].get("Labels") or {}
        return str(labels.get(CONFIG_LABEL)) if CONFIG_LABEL in labels else None

    def _image_id(self) -> str:
        try:
            return str(inspect("image", self.image)["Id"])
        except PodmanError:
            raise BackendError(f"the image {self.image} is missing: run `make image`") from None

    def _state(self, container: str) -> str | None:
        if not exists("container", container):
            return None
        return str(inspect("container", container)["State"]["Status"])

    def _reachable(self, key: str, value: str) -> str:
        """A URL of a shared service on the loopback address, as the pod reaches it."""
        if key in URL_SETTINGS or key.startswith("TALLYHOLD_EVM_RPC_"):
            return self._swap_host(value, key == "TALLYHOLD_DATABASE_URL")
        if key == "TALLYHOLD_EXCHANGE_API_OVERRIDES":
            overrides = json.loads(value)
            return json.dumps({venue: self._swap_host(str(url)) for venue, url in overrides.items()})
        return value

    def _swap_host(self, url: str, database: bool = False) -> str:
        if database:
            parsed = make_url(url)
            if parsed.host in LOOPBACK_HOSTS:
                return parsed.set(host=self.services_host).render_as_string(hide_password=False)
            return url
        parts = urlsplit(url)
        if parts.hostname in LOOPBACK_HOSTS:
            netloc = self.services_host + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
        return url

    def _ports(self, customer: Customer) -> dict[str, int]:
        """Keep the recorded ports while they are ours (the pod exists) or free; else take new ones."""
        recorded = customer.backend_state
        ours = exists("pod", f"tallyhold-{customer.id}")
        ports: dict[str, int] = {}
        for key in ("http_port", "metrics_port"):
            port = recorded.get(key)
            if isinstance(port, int) and (ours or port_is_free(port, self.publish_host)) and port not in ports.values():
                ports[key] = port
            else:
                ports[key] = new_port(self.publish_host, set(ports.values()))
        return ports

    def _endpoint(self, spec: StackSpec) -> Endpoint:
        state: dict[str, Any] = {"http_port": spec.http_port, "metrics_port": spec.metrics_port, "pod": spec.pod}
        return Endpoint(
            url=f"http://{self.public_host}:{spec.http_port}",
            metrics_url=f"http://{self.public_host}:{spec.metrics_port}/metrics",
            backend_state=state,
        )

    def _url_of(self, customer: Customer) -> str:
        return f"http://{self.public_host}:{customer.backend_state.get('http_port', 0)}"

    def _wait_healthy(self, container: str, url: str) -> None:
        deadline = time.monotonic() + self.health_timeout
        while True:
            if answers_healthz(url):
                return
            if time.monotonic() > deadline:
                state = self._state(container) or "missing"
                raise BackendError(
                    f"the container {container} ({state}) did not answer /healthz within {self.health_timeout:.0f} s; "
                    f"see `podman logs {container}`"
                )
            time.sleep(0.1)


def _network_args(customer_id: str) -> list[str]:
    return network_args(f"tallyhold-{customer_id}", customer_id)


def remove_stack(customer_id: str) -> None:
    """Every podman object of the customer's stack (pod and containers, secrets, volume, network); idempotent."""
    prefix = f"tallyhold-{customer_id}"
    podman("pod", "rm", "--force", "--time", "5", "--ignore", prefix)
    _remove_secrets(prefix)
    if exists("volume", f"{prefix}-state"):
        podman("volume", "rm", "--force", f"{prefix}-state")
    if exists("network", prefix):
        podman("network", "rm", "--force", prefix)


def stack_objects(customer_ids: Collection[str]) -> dict[str, list[str]]:
    """What podman still holds of these customers' stacks, as `kind name` by customer id (none once
    `remove_stack` ran). Five listings, whatever the number of customers."""
    prefixes = {f"tallyhold-{customer_id}": customer_id for customer_id in customer_ids}
    listings = {
        "container": ("ps", "--all", "--format", "{{.Names}}"),
        "pod": ("pod", "ps", "--format", "{{.Name}}"),
        "network": ("network", "ls", "--format", "{{.Name}}"),
        "secret": ("secret", "ls", "--format", "{{.Name}}"),
        "volume": ("volume", "ls", "--format", "{{.Name}}"),
    }
    found: dict[str, list[str]] = {}
    for kind, args in listings.items():
        for name in podman(*args).stdout.split():
            owner = next((c for p, c in prefixes.items() if name == p or name.startswith(f"{p}-")), None)
            if owner is not None:
                found.setdefault(owner, []).append(f"{kind} {name}")
    return found


def _remove_secrets(prefix: str) -> None:
    names = podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
    ours = [name for name in names if name.startswith(f"{prefix}-")]
    if ours:
        podman("secret", "rm", *ours)
