"""The Helm chart's workload run for real: the Deployment and ConfigMap rendered from deploy/helm/tallyhold, with
the database Secret the kubernetes backend applies, started by `podman kube play` from the image `make image`
builds, against the session's Postgres and OpenBao: it answers /readyz and syncs a sandbox exchange.

The instance logs in to OpenBao with Kubernetes auth, whose TokenReview calls go to the endpoint the Kubernetes
login tests serve. What podman cannot do, and what the test changes in the rendered objects for it, each said
where it is done: podman cannot project a ServiceAccount token (the JWT goes in a Secret mounted at the same
path), and the pod shares the host's network here to reach the session's servers on 127.0.0.1 (so the listening
ports become free ones). podman ignores runAsNonRoot, seccomp, probes and serviceAccountName: the offline chart
tests (tests/deploy/test_helm_chart.py) cover those."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tallyhold.settings import Settings
from tallyhold_provision import tenant_vault
from tallyhold_provision.backends.kubernetes import CHART_SETTINGS
from tallyhold_provision.kube.render import render_chart
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.ports import free_port
from tallyhold_provision.podman.engine import podman
from tallyhold_provision.tenant_vault import TenantVault
from tallyhold_sandbox import Sandbox
from tests.deploy.charts import CHART, one
from tests.fixtures.instance import FAST_EGRESS, instance_settings, issue_token, settings_env, wait_idle
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import new_key
from tests.fixtures.token_review import TokenReviewApi
from tests.fixtures.vault import install_tenant_policy

# podman 4.3 names a Deployment's pod `<name>-pod-0` and its containers `<pod>-<container>`.
CONTAINER = "tallyhold-pod-0-tallyhold"
UID = "10001"  # the image's user, and the chart's runAsUser


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenReviewApi]:
    api = TokenReviewApi(tmp_path_factory.mktemp("k8s"))
    yield api
    api.close()


@pytest.fixture(scope="module")
def k8s_vault(vault_admin: Any, apiserver: TokenReviewApi, tenant: Tenant) -> Iterator[TenantVault]:
    """The tenant in Vault as the provisioner makes a Kubernetes customer: key named like its namespace, role named
    after its id bound to the ServiceAccount `tallyhold` there, under the one shared templated policy."""
    tenant_vault.ensure_kubernetes_auth(
        vault_admin, kubernetes_host=apiserver.host, kubernetes_ca_cert=apiserver.cert.read_text()
    )
    names = TenantVault.for_kubernetes(tenant.customer_id)
    install_tenant_policy(vault_admin, names)
    tenant_vault.ensure_key(vault_admin, names)
    tenant_vault.ensure_kubernetes_role(vault_admin, names, namespace=names.key)
    try:
        yield names
    finally:
        tenant_vault.destroy(vault_admin, names)


@pytest.fixture(scope="module")
def settings(tenant: Tenant, openbao: LocalOpenBao, k8s_vault: TenantVault, sandbox: Sandbox) -> Settings:
    """The instance's settings as the chart sets them (for issue_token and clean_tenant, which use the database)."""
    return instance_settings(
        tenant,
        VAULT_ADDR=openbao.addr,
        VAULT_AUTH="kubernetes",
        VAULT_K8S_ROLE=k8s_vault.role,
        VAULT_KEY=k8s_vault.key,
        EXCHANGE_API_OVERRIDES=sandbox.overrides_json(),
        PRICE_VENUES="kraken,binance",
        EGRESS_OPTIONS=FAST_EGRESS,
        SYNC_TIMEOUT_SECONDS=10,
    )


def pod_yaml(
    settings: Settings, tenant: Tenant, k8s_vault: TenantVault, image: str, port: int, files: Path
) -> tuple[str, dict[str, Any]]:
    """The rendered ConfigMap and Deployment as podman will play them; `files` holds what the Secrets hold."""
    namespace = tenant.customer_id.replace("_", "-")
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("TALLYHOLD_") and k not in CHART_SETTINGS}
    values = {
        "customerId": tenant.customer_id,
        "database": {"existingSecret": "tallyhold-database"},
        "vault": {"addr": str(settings.vault.addr)},  # key and role: the chart's defaults, from the customer id
        "tls": {"mode": "upstream"},
        "serviceAccount": {"create": False},
        "networkPolicy": {"enabled": False},
        "env": env,
    }
    rendered = render_chart(CHART, values, release="tallyhold", namespace=namespace).objects
    config, deployment = one(rendered, "ConfigMap"), one(rendered, "Deployment")
    assert config["data"]["TALLYHOLD_VAULT_KEY"] == k8s_vault.key == namespace
    assert config["data"]["TALLYHOLD_VAULT_K8S_ROLE"] == k8s_vault.role == tenant.customer_id
    spec = deployment["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == image
    # The pod shares the host's network (the session's servers are on 127.0.0.1): listen on free loopback ports…
    config["data"] |= {"TALLYHOLD_HTTP_HOST": "127.0.0.1", "TALLYHOLD_HTTP_PORT": str(port)}
    config["data"]["TALLYHOLD_METRICS_PORT"] = "0"
    # …and publish nothing: podman turns containerPorts into port mappings, which host networking refuses.
    spec["containers"][0].pop("ports")
    # podman cannot project a ServiceAccount token, and podman 4.3 writes a Secret volume's files base64-encoded
    # (and ignores `items`): the two volumes become folders holding exactly the files the cluster would mount.
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["vault-token"]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "vault"
    assert volumes["settings"]["secret"]["items"] == [
        {"key": "TALLYHOLD_DATABASE_URL", "path": "TALLYHOLD_DATABASE_URL"}
    ]
    for name in ("vault-token", "settings"):
        volumes[name].pop("projected", None)
        volumes[name].pop("secret", None)
        volumes[name]["hostPath"] = {"path": str(files / name), "type": "Directory"}
    return "".join("---\n" + yaml.safe_dump(d) for d in (config, deployment)), deployment


def write_files(files: Path, database_url: str, jwt: str) -> None:
    for name, filename, value in (("settings", "TALLYHOLD_DATABASE_URL", database_url), ("vault-token", "token", jwt)):
        (files / name).mkdir(parents=True)
        (files / name / filename).write_text(value)
        os.chown(files / name / filename, int(UID), int(UID))  # the pod's user, like fsGroup on a cluster
        (files / name / filename).chmod(0o400)


async def wait_ready(base: str, deadline: float = 90.0) -> dict[str, Any]:
    limit = time.monotonic() + deadline
    async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
        while True:
            try:
                ready = await probe.get("/readyz")
                if ready.status_code == 200:
                    return dict(ready.json())
            except httpx.TransportError:
                pass
            if time.monotonic() > limit:
                logs = podman("logs", CONTAINER, check=False)
                pytest.fail(f"the instance did not become ready; its log:\n{(logs.stdout + logs.stderr)[-3000:]}")
            await asyncio.sleep(0.2)


async def test_the_charts_workload_serves_and_syncs_under_podman_kube_play(
    settings: Settings,
    tenant: Tenant,
    k8s_vault: TenantVault,
    apiserver: TokenReviewApi,
    sandbox: Sandbox,
    tracker_image: str,
    clean_tenant: None,
    tmp_path: Path,
) -> None:
    namespace = tenant.customer_id.replace("_", "-")
    port = free_port()
    jwt = apiserver.issue(namespace, account="tallyhold", audience="vault")
    files = tmp_path / "mounted"
    write_files(files, tenant.app_url, jwt)
    manifest, _ = pod_yaml(settings, tenant, k8s_vault, tracker_image, port, files)
    kube = tmp_path / "tallyhold.yaml"
    kube.write_text(manifest)
    try:
        played = podman("kube", "play", "--network", "host", str(kube), check=False)
        assert played.returncode == 0, played.stderr
        base = f"http://127.0.0.1:{port}"
        ready = await wait_ready(base)
        assert ready["database"] == "ok", ready
        assert ready["vault"] == "ok", ready
        assert jwt in apiserver.reviewed  # the login was the Kubernetes one, with the mounted token
        binance = sandbox.control("binance")
        api_key, api_secret = new_key("chart"), f"canary-{secrets.token_hex(16)}"
        binance.add_key(api_key, api_secret, permissions=["read"], balances={"spot": {"BTC": "0.25"}})
        headers = {"Authorization": f"Bearer {await issue_token(settings, 'chart test')}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
            created = await api.post(
                "/v1/connections/exchange",
                json={"exchange": "binance", "label": "Main", "api_key": api_key, "api_secret": api_secret},
            )
            assert created.status_code == 201, created.text
            assert (await api.post("/v1/sync")).status_code == 202
            status = await wait_idle(api)
            assert [source["state"] for source in status["sources"]] == ["ok"], status
            balances = (await api.get("/v1/balances")).json()
            assert {item["asset"]: item["amount"] for item in balances["items"]} == {"BTC": "0.25"}
        # Read-only root filesystem, non-root user, no capabilities: what podman does apply of the chart.
        assert podman("exec", CONTAINER, "id", "-u").stdout.strip() == "10001"
        assert podman("exec", CONTAINER, "touch", "/etc/x", check=False).returncode != 0
    finally:
        podman("kube", "down", str(kube), check=False)
