"""Builds a Provisioner from the `TALLYHOLD_PROVISIONER_*` settings: external Postgres and Vault when they are
configured, otherwise the embedded platform of the state folder (started when needed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from tallyhold_provision.backends.base import Backend
from tallyhold_provision.backends.kubernetes import KubeConfig, KubernetesBackend, load_values
from tallyhold_provision.backends.local import LocalBackend
from tallyhold_provision.backends.podman import PodmanBackend
from tallyhold_provision.config import BackendName, ProvisionerSettings
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.operations import Provisioner
from tallyhold_provision.podman.spec import Limits
from tallyhold_provision.postgres import Databases
from tallyhold_provision.vault import AppRoleLogin, Vault, login
from tallyhold_provision.vault_plane import VaultPlane


def backends(settings: ProvisionerSettings) -> dict[str, Backend]:
    return {
        "local": LocalBackend(
            settings.state_dir,
            public_host=settings.PUBLIC_HOST,
            health_timeout=settings.HEALTH_TIMEOUT_SECONDS,
            worker_slots=settings.EGRESS_WORKER_SLOTS,
            forkserver=settings.EGRESS_FORKSERVER,
        ),
        "podman": PodmanBackend(
            settings.state_dir,
            publish_host=settings.PODMAN_PUBLISH_ADDRESS,
            services_host=settings.PODMAN_SERVICES_HOST,
            public_host=settings.PUBLIC_HOST,
            image=settings.PODMAN_IMAGE,
            limits=Limits(settings.PODMAN_MEMORY, settings.PODMAN_CPUS, settings.PODMAN_PIDS_LIMIT),
            health_timeout=settings.HEALTH_TIMEOUT_SECONDS,
            worker_slots=settings.EGRESS_WORKER_SLOTS,
        ),
        "kubernetes": kubernetes_backend(settings),
    }


def kubernetes_backend(settings: ProvisionerSettings) -> KubernetesBackend:
    from tallyhold_provision.kube.cluster import Cluster, api_client

    chart = settings.CHART_PATH if settings.CHART_PATH.is_absolute() else checkout_root() / settings.CHART_PATH
    kube = KubeConfig(
        chart=chart,
        namespace_chart=chart.parent / "tallyhold-namespace",
        vault_addr=settings.KUBE_VAULT_ADDR or (str(settings.VAULT_ADDR).rstrip("/") if settings.VAULT_ADDR else None),
        vault_transit_mount=settings.VAULT_TRANSIT_MOUNT,
        vault_auth_mount=settings.VAULT_KUBERNETES_MOUNT,
        vault_audience=settings.VAULT_KUBERNETES_AUDIENCE,
        ingress_domain=settings.KUBE_INGRESS_DOMAIN,
        values=load_values(settings.KUBE_VALUES),
        namespace_values=load_values(settings.KUBE_NAMESPACE_VALUES),
    )
    return KubernetesBackend(
        kube, lambda: Cluster(api_client(settings.KUBE_CONTEXT), timeout=settings.KUBE_TIMEOUT_SECONDS)
    )


def vault_factory(settings: ProvisionerSettings, platform: LocalPlatform) -> Callable[[], VaultPlane]:
    def connect() -> VaultPlane:
        layout = settings.vault_layout
        if settings.VAULT_ADDR is None:
            platform.ensure_openbao()
            addr = platform.openbao.addr
            client = login(addr, approle=platform.vault_login(), approle_mount=settings.VAULT_APPROLE_MOUNT)
            return Vault(client, addr, layout)
        addr = str(settings.VAULT_ADDR).rstrip("/")
        token = settings.VAULT_TOKEN.get_secret_value() if settings.VAULT_TOKEN else None
        approle = None
        if token is None and settings.VAULT_ROLE_ID and settings.VAULT_SECRET_ID:
            approle = AppRoleLogin(settings.VAULT_ROLE_ID, settings.VAULT_SECRET_ID.get_secret_value())
        client = login(
            addr, token=token, approle=approle, cacert=settings.VAULT_CACERT, approle_mount=settings.VAULT_APPROLE_MOUNT
        )
        return Vault(client, addr, layout, cacert=settings.VAULT_CACERT)

    return connect


def local_platform(settings: ProvisionerSettings) -> LocalPlatform:
    """The embedded platform of the state folder. With the podman backend by default, its Postgres and OpenBao
    listen on every address: pods reach them at the host's address on their network."""
    return LocalPlatform(
        settings.state_dir, settings.vault_layout, listen_all=settings.DEFAULT_BACKEND is BackendName.podman
    )


def build(
    settings: ProvisionerSettings,
    *,
    environ: Mapping[str, str] | None = None,
    after_step: Callable[[str], None] | None = None,
) -> Provisioner:
    platform = local_platform(settings)
    if settings.ADMIN_DATABASE_URL is not None:
        admin_url = settings.ADMIN_DATABASE_URL.get_secret_value()
    else:
        platform.ensure_postgres()
        admin_url = platform.postgres.url()
    return Provisioner(
        databases=Databases(admin_url, settings.TENANT_DATABASE, settings.INSTANCE_DATABASE_HOST, settings.EGRESS_POOL),
        vault=vault_factory(settings, platform),
        backends=backends(settings),
        environ=environ,
        after_step=after_step,
        token_lifetime=timedelta(days=settings.TOKEN_EXPIRY_DAYS),
    )
