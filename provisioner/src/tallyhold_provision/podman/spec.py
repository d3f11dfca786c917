"""What one customer's container stack is, to podman: a network of its own, a pod on it (its own network
namespace) publishing the API and metrics ports on the operator's address, the customer's secrets as podman
secrets, and the tracker container. `render SLUG --backend podman` prints this spec, commands included, and the
backend runs exactly these commands.

Names, all after the customer's opaque id: network and pod `tallyhold-<id>`, container `tallyhold-<id>-instance`,
secrets `tallyhold-<id>-<setting>`; every object carries the label `tallyhold.customer=<id>`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tallyhold.settings import secret_bearing_settings

CUSTOMER_LABEL = "tallyhold.customer"
CONFIG_LABEL = "tallyhold.config"
UID = "10001"  # the image's user (Containerfile)
HTTP_PORT = 8080  # inside the pod
METRICS_PORT = 9464
SECRETS_DIR = "/run/secrets"
# Where every customer network's subnet comes from (deploy/podman/containers.conf, default_subnet_pools): Vault
# sees a pod's AppRole logins come from there, and binds its secret ids and tokens to it.
NETWORK_POOL = "10.89.0.0/16"
# Settings that may carry a credential (every secret, and every URL: an RPC or Esplora provider's URL usually
# holds its API key): they reach the container as files under SECRETS_DIR, never as variables or labels.
SECRET_SETTINGS = secret_bearing_settings()
STATE_DIR = "/var/lib/tallyhold"  # the customer's volume, the one place its instance writes that outlives it
SECRET_ID_FILE = f"{STATE_DIR}/vault-secret-id.json"
# The host's egress worker slots (tallyhold_provision/worker_slots.py), shared read-only by every pod of the host:
# the bound on workers alive at once holds across containers, because `flock` locks the host's file itself.
SLOTS_DIR = "/run/tallyhold/egress-worker-slots"
# The instance, as the local backend runs it (README, "Customers per host"): `tallyhold serve` without the command
# line's library, under `python -OO` (no docstrings; the OpenAPI descriptions are read back from source) and
# without column ranges, reading the `.opt-2.pyc` files the image compiles for it. Interpreter options, not
# PYTHONOPTIMIZE in the container's environment: `podman exec` inherits that environment, and the image's other
# commands (`tallyhold migrate`, `tallyhold token …`) keep their help texts, which are docstrings. `-P`: `-m` would
# otherwise put the working directory (/tmp, writable by the instance and its egress worker) first on sys.path,
# where a planted file could shadow any module, the standard library's included, at the next start.
INSTANCE_ENTRYPOINT = "python"
INSTANCE_OPTIONS = ("-P", "-OO", "-X", "no_debug_ranges")
INSTANCE_ARGS = (*INSTANCE_OPTIONS, "-m", "tallyhold.serve")


def network_args(network: str, customer_id: str) -> list[str]:
    # isolate: no traffic between this network and any other isolated one (another customer's pods).
    return ["network", "create", "--opt", "isolate=true", "--label", f"{CUSTOMER_LABEL}={customer_id}", network]


@dataclass(frozen=True)
class Limits:
    memory: str = "768m"
    cpus: str = "1.0"
    pids: int = 256


@dataclass(frozen=True)
class StackSpec:
    customer_id: str
    image: str
    image_id: str
    publish_host: str
    http_port: int
    metrics_port: int
    env: dict[str, str]  # no secret: those are in `secrets`
    secrets: dict[str, str] = field(repr=False)  # setting name -> value
    limits: Limits = Limits()
    worker_slots: str | None = None  # the host's slot folder; None: no bound

    @property
    def network(self) -> str:
        return f"tallyhold-{self.customer_id}"

    @property
    def pod(self) -> str:
        return f"tallyhold-{self.customer_id}"

    @property
    def container(self) -> str:
        return f"tallyhold-{self.customer_id}-instance"

    @property
    def volume(self) -> str:
        return f"tallyhold-{self.customer_id}-state"

    def secret_name(self, setting: str) -> str:
        return f"tallyhold-{self.customer_id}-{setting.removeprefix('TALLYHOLD_').lower().replace('_', '-')}"

    def digest(self) -> str:
        """Changes with anything that needs a new container; a one-way hash, so a label may carry it."""
        material = json.dumps(
            {
                "image": self.image_id,
                "command": [INSTANCE_ENTRYPOINT, *INSTANCE_ARGS],
                "ports": [self.publish_host, self.http_port, self.metrics_port],
                "env": self.env,
                "secrets": self.secrets,
                "limits": [self.limits.memory, self.limits.cpus, self.limits.pids],
                "worker_slots": self.worker_slots,
            },
            sort_keys=True,
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    # -- the commands ----------------------------------------------------------------------------------------

    def network_args(self) -> list[str]:
        return network_args(self.network, self.customer_id)

    def pod_args(self) -> list[str]:
        return [
            "pod", "create", "--name", self.pod, "--network", self.network,
            "--publish", f"{self.publish_host}:{self.http_port}:{HTTP_PORT}",
            "--publish", f"{self.publish_host}:{self.metrics_port}:{METRICS_PORT}",
            "--label", f"{CUSTOMER_LABEL}={self.customer_id}",
        ]  # fmt: skip

    def volume_args(self) -> list[str]:
        return ["volume", "create", "--label", f"{CUSTOMER_LABEL}={self.customer_id}", self.volume]

    def secret_args(self, setting: str) -> list[str]:
        """Read from stdin: the value is never on a command line."""
        return ["secret", "create", "--label", f"{CUSTOMER_LABEL}={self.customer_id}", self.secret_name(setting), "-"]

    def container_args(self) -> list[str]:
        args = [
            "create", "--name", self.container, "--pod", self.pod,
            "--read-only", "--read-only-tmpfs=false",
            "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",  # noqa: S108 - the container's own private tmpfs
            # Root-owned and not writable by the instance: podman mounts each secret file onto it.
            "--tmpfs", f"{SECRETS_DIR}:rw,noexec,nosuid,nodev,size=64k,mode=0755",
            # Owned by the instance's user (the backend chowns it): the secret id it unwraps stays here across
            # restarts and upgrades.
            "--volume", f"{self.volume}:{STATE_DIR}:rw,nosuid,nodev,noexec",
            "--cap-drop", "all", "--security-opt", "no-new-privileges",
            "--memory", self.limits.memory, "--cpus", self.limits.cpus, "--pids-limit", str(self.limits.pids),
            "--restart", "always",
            "--label", f"{CUSTOMER_LABEL}={self.customer_id}",
            "--label", f"{CONFIG_LABEL}={self.digest()}",
            "--env", f"TALLYHOLD_SECRETS_DIR={SECRETS_DIR}",
        ]  # fmt: skip
        if self.worker_slots is not None:
            args += ["--volume", f"{self.worker_slots}:{SLOTS_DIR}:ro,nosuid,nodev,noexec"]
            args += ["--env", f"TALLYHOLD_EGRESS_WORKER_SLOTS_DIR={SLOTS_DIR}"]
        for setting in sorted(self.secrets):
            args += [
                "--secret",
                f"{self.secret_name(setting)},type=mount,target={setting},uid={UID},gid={UID},mode=0400",
            ]
        for key, value in sorted(self.env.items()):
            args += ["--env", f"{key}={value}"]
        args += ["--entrypoint", INSTANCE_ENTRYPOINT, self.image, *INSTANCE_ARGS]
        return args

    def render(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "pod": self.pod,
            "container": self.container,
            "image": self.image,
            "publish": {
                "api": f"{self.publish_host}:{self.http_port}",
                "metrics": f"{self.publish_host}:{self.metrics_port}",
            },
            "secrets": {setting: self.secret_name(setting) for setting in sorted(self.secrets)},
            "commands": [
                ["podman", *self.network_args()],
                ["podman", *self.pod_args()],
                ["podman", *self.volume_args()],
                *(["podman", *self.secret_args(setting)] for setting in sorted(self.secrets)),
                ["podman", *self.container_args()],
                ["podman", "pod", "start", self.pod],
            ],
        }
