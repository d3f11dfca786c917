"""The provisioner's own settings, read from `TALLYHOLD_PROVISIONER_*` environment variables.

Unset database and Vault settings mean "the local platform in the state folder": the embedded Postgres and
OpenBao that `make run` (or the first local command) started there. The README's operator table is generated
from the field descriptions below (`tallyhold-provision config-table`); a test keeps the two in step.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, SettingsConfigDict

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.worker_slots import DEFAULT_WORKER_SLOTS

if TYPE_CHECKING:
    from tallyhold_provision.vault import VaultLayout

# A lowercase SQL identifier (the tenant database's name goes into SQL as an identifier, but is checked anyway).
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BackendName(StrEnum):
    local = "local"
    podman = "podman"
    kubernetes = "kubernetes"


def default_state_dir() -> Path:
    """`make run` and the provisioner share one folder unless told otherwise: `TALLYHOLD_STATE_DIR`, else
    `.tallyhold/` in the checkout (wherever the command is run from)."""
    configured = os.environ.get("TALLYHOLD_STATE_DIR")
    return Path(configured) if configured else checkout_root() / ".tallyhold"


class ProvisionerSettings(BaseSettings):
    """Everything `tallyhold-provision` reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="TALLYHOLD_PROVISIONER_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    STATE_DIR: Path = Field(
        default_factory=default_state_dir,
        description="Folder of the local backend and the embedded platform (supervisor files, instance logs, "
        "Postgres and OpenBao when they are local). Defaults to `TALLYHOLD_STATE_DIR`, else `.tallyhold/` in the "
        "checkout.",
    )
    ADMIN_DATABASE_URL: SecretStr | None = Field(
        None,
        description="Postgres URL of a role with CREATEROLE that owns the registry (`postgresql://…/admin-db`). "
        "Unset: the embedded Postgres in the state folder, started when needed.",
    )
    TENANT_DATABASE: str = Field(
        "tallyhold",
        description="Database that holds the customers' schemas (created when missing). The registry lives in "
        "the admin database's `tallyhold_registry` schema, out of the customers' sight.",
    )
    INSTANCE_DATABASE_HOST: str | None = Field(
        None, description="Host the instances use to reach Postgres. Defaults to the admin URL's host."
    )
    EGRESS_POOL: str | None = Field(
        None,
        description="Egress pool of the customers created: the instances that reach exchanges from one IP, which "
        "share each venue's per-IP request budget. Unset: one pool per host (its host name). On Kubernetes, one "
        "pool per NAT gateway (the same name for every customer whose pods leave through it).",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
    )
    EGRESS_WORKER_SLOTS: int = Field(
        DEFAULT_WORKER_SLOTS,
        ge=0,
        le=4096,
        description="Egress workers alive at once on this host, over all its local and podman instances (each "
        "~70-90 MiB while it lives, about once per customer and sync interval): past it a sync waits for a slot and "
        "runs late instead of the host running out of memory. 0: no bound. Not for Kubernetes, where each pod's "
        "memory limit and the scheduler's requests bound a node.",
    )
    EGRESS_FORKSERVER: bool = Field(
        True,
        description="Local backend: run the host's egress worker fork server (a supervisord program, "
        "`python -m tallyhold.egress.forkserver`), which forks each instance's egress worker with ccxt, web3 and "
        "the rest already imported, as the instance's own OS user: about a third of a started worker's CPU and half "
        "its own memory. Off: each instance starts its workers itself.",
    )
    VAULT_ADDR: AnyHttpUrl | None = Field(
        None, description="Vault/OpenBao address. Unset: the local OpenBao in the state folder."
    )
    VAULT_TOKEN: SecretStr | None = Field(
        None,
        description="The provisioner's Vault token (policy `deploy/vault/provisioner.hcl.tmpl`). Alternatively "
        "`VAULT_ROLE_ID` + `VAULT_SECRET_ID` (AppRole).",
    )
    VAULT_ROLE_ID: str | None = Field(None, description="AppRole role id of the provisioner.")
    VAULT_SECRET_ID: SecretStr | None = Field(None, description="AppRole secret id of the provisioner.")
    VAULT_CACERT: str | None = Field(None, description="CA bundle for Vault's TLS certificate.")
    VAULT_TRANSIT_MOUNT: str = Field("transit", description="Mount path of the transit engine.")
    VAULT_APPROLE_MOUNT: str = Field("approle", description="Mount path of the AppRole auth method (local backend).")
    VAULT_KUBERNETES_MOUNT: str = Field(
        "kubernetes", description="Mount path of the Kubernetes auth method (kubernetes backend)."
    )
    VAULT_TENANT_POLICY: str = Field(
        "tallyhold-tenant",
        description="The one templated policy every tenant identity gets (`deploy/vault/tenant.hcl.tmpl`).",
    )
    VAULT_INSTANCE_CIDRS: str | None = Field(
        None,
        description="Comma-separated CIDRs Vault sees instances log in from with their AppRole: their secret ids "
        "and tokens work from there only, and the provisioner's policy pins this exact value. Unset: "
        "`127.0.0.1/32` (local instances), plus the podman backend's network pool `10.89.0.0/16` when "
        "`DEFAULT_BACKEND` is `podman`; set it when local and podman customers share one Vault.",
    )
    VAULT_KUBERNETES_AUDIENCE: str = Field(
        "vault", description="Audience a Kubernetes tenant's projected ServiceAccount token must carry."
    )
    DEFAULT_BACKEND: BackendName = Field(BackendName.local, description="Backend of `create` without `--backend`.")
    PUBLIC_HOST: str = Field("127.0.0.1", description="Host name in the URLs printed for local instances.")
    HEALTH_TIMEOUT_SECONDS: float = Field(
        60.0, gt=0, le=600, description="How long a command waits for an instance to answer `/healthz`."
    )
    SYNC_OVERDUE_SECONDS: int = Field(
        900, ge=60, description="`status` reports `last_sync` unhealthy when a source has not synced for this long."
    )
    PODMAN_PUBLISH_ADDRESS: str = Field(
        "127.0.0.1",
        description="podman backend: address the pods publish their API and metrics ports on (each customer on "
        "ports of its own).",
    )
    PODMAN_SERVICES_HOST: str = Field(
        "host.containers.internal",
        description="podman backend: host name pods use for shared services the provisioner reaches on the "
        "loopback address (embedded Postgres and OpenBao, `make run`'s venues and chain).",
    )
    PODMAN_IMAGE: str | None = Field(
        None, description="podman backend: the tracker image. Unset: `localhost/tallyhold:<version>` (`make image`)."
    )
    PODMAN_MEMORY: str = Field(
        "768m", description="podman backend: memory limit of a customer's container (idle ~150 MiB, see bench/)."
    )
    PODMAN_CPUS: str = Field("1.0", description="podman backend: CPU limit of a customer's container.")
    PODMAN_PIDS_LIMIT: int = Field(256, ge=16, description="podman backend: process/thread limit of a container.")
    TOKEN_EXPIRY_DAYS: int = Field(
        90,
        ge=1,
        le=3650,
        description="Lifetime of the tokens the provisioner issues (`create`'s first token, `token` without "
        "`--expires-in`).",
    )
    KUBE_CONTEXT: str | None = Field(
        None,
        description="kubeconfig context of the kubernetes backend (`KUBECONFIG` or `~/.kube/config`). Unset: the "
        "in-cluster service account when run in a pod, else the kubeconfig's current context.",
    )
    CHART_PATH: Path = Field(
        Path("deploy/helm/tallyhold"),
        description="Helm chart of the kubernetes backend (relative paths: from the checkout); the namespace chart "
        "is `tallyhold-namespace` beside it.",
    )
    KUBE_VALUES: Path | None = Field(
        None,
        description="The operator's values file for the tallyhold chart (image, Postgres and Vault addresses for "
        "the NetworkPolicy, ingress class, monitoring…); per-customer values are set over it.",
    )
    KUBE_NAMESPACE_VALUES: Path | None = Field(
        None, description="The operator's values file for the tallyhold-namespace chart (quota, limits)."
    )
    KUBE_VAULT_ADDR: str | None = Field(
        None, description="Vault's address as the pods reach it. Defaults to `TALLYHOLD_PROVISIONER_VAULT_ADDR`."
    )
    KUBE_INGRESS_DOMAIN: str | None = Field(
        None,
        description="With a domain, each customer gets an Ingress for `<namespace>.<domain>` terminating TLS; "
        "without, TLS must end at a proxy of yours (`tls.mode` in `KUBE_VALUES`).",
    )
    KUBE_TIMEOUT_SECONDS: float = Field(
        300.0,
        gt=0,
        le=3600,
        description="How long the kubernetes backend waits for a migration Job, a rollout or a namespace deletion.",
    )

    @field_validator("TENANT_DATABASE")
    @classmethod
    def _database_name(cls, value: str) -> str:
        if not SCHEMA_NAME.fullmatch(value):
            raise ValueError("must be a lowercase identifier")
        return value

    @property
    def state_dir(self) -> Path:
        return self.STATE_DIR.resolve()

    @property
    def vault_layout(self) -> VaultLayout:
        from tallyhold_provision.vault import VaultLayout

        return VaultLayout(
            transit_mount=self.VAULT_TRANSIT_MOUNT,
            approle_mount=self.VAULT_APPROLE_MOUNT,
            kubernetes_mount=self.VAULT_KUBERNETES_MOUNT,
            tenant_policy=self.VAULT_TENANT_POLICY,
            instance_cidrs=self.VAULT_INSTANCE_CIDRS or self._default_instance_cidrs(),
            kubernetes_audience=self.VAULT_KUBERNETES_AUDIENCE,
        )

    def _default_instance_cidrs(self) -> str:
        from tallyhold_provision.podman.spec import NETWORK_POOL
        from tallyhold_provision.vault import LOCAL_INSTANCE_CIDRS

        if self.DEFAULT_BACKEND is BackendName.podman:
            return f"{LOCAL_INSTANCE_CIDRS},{NETWORK_POOL}"
        return LOCAL_INSTANCE_CIDRS


def config_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in ProvisionerSettings.model_fields.items():
        if field.default_factory is not None:
            default = "see meaning"
        elif field.default is None or field.default is PydanticUndefined:
            default = "—"
        else:
            value = field.default.value if isinstance(field.default, StrEnum) else field.default
            default = f"`{value}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `TALLYHOLD_PROVISIONER_{name}` | {default} | {description} |")
    return "\n".join(lines) + "\n"
