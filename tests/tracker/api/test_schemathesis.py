"""schemathesis over the instance's own /openapi.json (bad input, fuzzed): every operation, examples
generated from its schema (valid and invalid), against `tallyhold serve` over real HTTP with the sandbox venues
behind it. No answer may be a 5xx, and every answer must match the schema the document gives for it.

Deterministic and bounded: a fixed seed, one worker, no example database, a fixed number of examples per
operation; the stateful phase is left out (it follows links between operations, which the document does
not declare). The CLI runs as a child process so the session's event loop, which serves the sandbox venues
the instance calls, keeps running meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tallyhold.settings import Settings
from tallyhold_provision.local.ports import free_port
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import issue_token, sandbox_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import new_key
from tests.fixtures.serve import serving
from tests.fixtures.vault import VaultTenant

SEED = 7
EXAMPLES_PER_OPERATION = 25
SANDBOX_VENUES = ["binance", "kraken", "okx", "coinbase", "bybit"]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return sandbox_settings(tenant, vault_tenant, sandbox, HTTP_PORT=free_port(), LOG_LEVEL="INFO")


@pytest_asyncio.fixture(scope="module")
async def instance(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with serving(settings, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


async def existing_connections(base: str, token: str, sandbox: Sandbox) -> list[str]:
    """A manual and a sandbox Binance connection, so generated ids sometimes name a real one."""
    binance = sandbox.control("binance")
    api_key, secret = new_key("fuzz"), new_key("secret")
    binance.add_key(api_key, secret, permissions=["read"], balances={"spot": {"BTC": "1"}})
    exchange = {"exchange": "binance", "label": "Fuzzed", "api_key": api_key, "api_secret": secret}
    manual = {"label": "Cash", "asset": "USD", "amount": "10"}
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        created = [
            await api.post("/v1/connections/exchange", json=exchange),
            await api.post("/v1/connections/manual", json=manual),
        ]
    assert all(response.status_code == 201 for response in created), [r.text for r in created]
    return [str(response.json()["id"]) for response in created]


def config(connection_ids: list[str]) -> str:
    """Half of the generated exchange ids are sandbox venues, half of the connection ids exist and half of the
    labels are plain: the requests get past "unsupported", "not found" and "invalid label" to the checks behind
    them (the key's format, its verification by the exchange)."""
    return (
        "[dictionaries.venues]\n"
        f"values = {json.dumps(SANDBOX_VENUES)}\n"
        "[dictionaries.connections]\n"
        f"values = {json.dumps(connection_ids)}\n"
        '[dictionaries.labels]\nvalues = ["Main"]\n'
        "[parameters]\n"
        '"body.exchange" = { dictionary = "venues", probability = 0.5 }\n'
        '"path.connection_id" = { dictionary = "connections", probability = 0.5 }\n'
        '"body.label" = { dictionary = "labels", probability = 0.5 }\n'
    )


async def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    settings: Settings, instance: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    token = await issue_token(settings, "schemathesis")
    (tmp_path / "schemathesis.toml").write_text(config(await existing_connections(instance, token, sandbox)))
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        f"{instance}/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {token}",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-20000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", text)
    assert generated, text[-5000:]
    assert generated[1] == generated[2]
    assert int(generated[1]) >= 20 * 10, "every operation was exercised"
