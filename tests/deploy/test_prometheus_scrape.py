"""A real Prometheus (Debian package) scrapes a running `tallyhold serve` on its METRICS_PORT and evaluates
the shipped rules: a Binance 418 on the instance's key opens the venue's breaker, and TallyholdVenueBanned
fires, end to end. Polls, never sleeps a fixed time: the first scrape comes ~6 s
after Prometheus starts."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tallyhold.settings import Settings
from tallyhold_provision.local.ports import free_port
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import issue_token, sandbox_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import new_key
from tests.fixtures.serve import poll, serving, stop
from tests.fixtures.vault import VaultTenant

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "tallyhold.rules.yml"


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(
        tenant,
        vault_tenant,
        sandbox,
        HTTP_PORT=free_port(),
        METRICS_PORT=free_port(),
        SYNC_SCHEDULER=True,
        LOG_LEVEL="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def instance(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with serving(settings, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest_asyncio.fixture(scope="module")
async def prometheus(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    exe = shutil.which("prometheus")
    assert exe, "prometheus comes from the Debian package prometheus: `make debian`"
    home = tmp_path_factory.mktemp("prometheus")
    config = home / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{RULES}]\n"
        "scrape_configs:\n"
        "  - job_name: tallyhold\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{settings.http.metrics_port}']}}]\n"
    )
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()


async def test_prometheus_scrapes_the_instance_and_fires_a_shipped_alert(
    settings: Settings, instance: str, prometheus: str, sandbox: Sandbox
) -> None:
    binance = sandbox.control("binance")
    api_key, secret = new_key("prom"), new_key("secret")
    binance.add_key(api_key, secret, permissions=["read"], balances={"spot": {"BTC": "1"}})
    headers = {"Authorization": f"Bearer {await issue_token(settings, 'prometheus test')}"}
    async with httpx.AsyncClient(base_url=instance, headers=headers, timeout=30) as api:
        created = await api.post(
            "/v1/connections/exchange",
            json={"exchange": "binance", "label": "Main", "api_key": api_key, "api_secret": secret},
        )
        assert created.status_code == 201, created.text
        with binance.fault("ban", api_key=api_key, retry_after=3600):
            assert (await api.post("/v1/sync")).status_code == 202

            async def banned() -> bool:
                status = (await api.get("/v1/sync/status")).json()
                return any(v["reason"] == "banned" for v in status["venues"])

            await poll(banned, "the 418 to open the breaker")

    async with httpx.AsyncClient(base_url=prometheus, timeout=5) as prom:

        async def target_up() -> bool:
            try:
                targets = (await prom.get("/api/v1/targets")).json()["data"]["activeTargets"]
            except httpx.TransportError:
                return False
            return any(t["labels"]["job"] == "tallyhold" and t["health"] == "up" for t in targets)

        await poll(target_up, "the first scrape")

        async def firing() -> list[dict[str, Any]]:
            alerts = (await prom.get("/api/v1/alerts")).json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "TallyholdVenueBanned" and a["state"] == "firing"]

        alerts = await poll(firing, "TallyholdVenueBanned to fire")
        assert alerts[0]["labels"]["venue"] == "binance"
        assert alerts[0]["labels"]["severity"] == "critical"

        rules = (await prom.get("/api/v1/rules")).json()["data"]["groups"]
        assert [g["name"] for g in rules] == ["tallyhold"]
        assert all(rule["health"] == "ok" for group in rules for rule in group["rules"]), rules
        interval = (await prom.get("/api/v1/query", params={"query": "tallyhold_sync_interval_seconds"})).json()
        assert interval["data"]["result"][0]["value"][1] == str(settings.sync.interval_seconds)
