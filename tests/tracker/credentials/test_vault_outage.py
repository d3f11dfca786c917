"""OpenBao killed mid-run (and sealed) while the instance serves and syncs: the API and /healthz keep serving,
/readyz says Vault is down, credential writes answer 503 `vault_unavailable`, exchange syncs pause with their
last balances flagged stale, nothing is written in clear, and everything recovers without a restart once
OpenBao is back (within 60 s)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text

from tallyhold.credentials import service as credentials
from tallyhold.credentials.errors import VaultUnavailable
from tallyhold.db import create_engine, transaction
from tallyhold_provision.local.openbao import LocalOpenBao
from tests.fixtures.instance import assert_error, instance_settings, issue_token, runtime_of
from tests.fixtures.sandbox import new_key
from tests.fixtures.vault import provision_vault_tenant

RECOVERY_DEADLINE = 60.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = RECOVERY_DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def bao(tmp_path_factory) -> Iterator[LocalOpenBao]:
    """This module's own OpenBao: killing the session's server would disturb every other module."""
    server = LocalOpenBao(tmp_path_factory.mktemp("outage") / "openbao")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(tenant, bao, sandbox):
    vault = provision_vault_tenant(bao, tenant.customer_id)
    return instance_settings(
        tenant,
        **vault.settings(),
        EXCHANGE_API_OVERRIDES={"binance": sandbox.url("binance")},
        PRICE_VENUES="binance",
    )


@pytest_asyncio.fixture
async def api(app, settings, clean_tenant) -> AsyncIterator[httpx.AsyncClient]:
    token = await issue_token(settings, "outage")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://i.test", headers=headers) as client:
        yield client


async def source(api: httpx.AsyncClient) -> dict[str, Any]:
    """The first exchange connection's sync status (the one the test syncs)."""
    sources = (await api.get("/v1/sync/status")).json()["sources"]
    return dict(min(sources, key=lambda s: s["label"]))


async def idle(api: httpx.AsyncClient) -> bool:
    return not (await api.get("/v1/sync/status")).json()["running"]


async def synced_once_more(api: httpx.AsyncClient) -> dict[str, Any]:
    """One whole `POST /v1/sync` (sources, then prices), started after the previous one has finished."""
    await eventually(lambda: idle(api), timeout=30)
    before = (await source(api))["last_attempt_at"]
    accepted = await api.post("/v1/sync")
    assert accepted.json() == {"status": "started"}

    async def attempted() -> bool:
        return await idle(api) and (await source(api))["last_attempt_at"] != before

    try:
        await eventually(attempted, timeout=30)
    except AssertionError:
        raise AssertionError(f"no new sync attempt: {await source(api)}") from None
    return await source(api)


async def ciphertexts(settings) -> list[tuple[Any, ...]]:
    engine = create_engine(settings, process="test")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT api_key_ct, api_secret_ct FROM connections ORDER BY id"))
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("outage", ["killed", "sealed"])
async def test_vault_outage_and_recovery(api, app, bao, sandbox, settings, outage) -> None:
    binance = sandbox.control("binance")
    api_key, secret = new_key("outage"), new_key("secret")
    binance.add_key(api_key, secret, balances={"spot": {"BTC": "0.5"}})
    created = await api.post(
        "/v1/connections/exchange",
        json={"exchange": "binance", "label": "Main", "api_key": api_key, "api_secret": secret},
    )
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    assert (await synced_once_more(api))["state"] == "ok"
    stored = await ciphertexts(settings)
    cipher = runtime_of(app).cipher

    # A sync-like consumer keeps decrypting while OpenBao goes away under it.
    outcomes: list[str] = []
    stop = asyncio.Event()

    async def keep_using() -> None:
        sessions = runtime_of(app).session_maker
        while not stop.is_set():
            try:
                async with transaction(sessions) as session:
                    opened = await credentials.open_key(session, cipher, created.json()["id"])
                    assert opened.api_key.get_secret_value() == api_key
                outcomes.append("ok")
            except VaultUnavailable:
                outcomes.append("vault_unavailable")
            await asyncio.sleep(0.05)

    user = asyncio.create_task(keep_using())
    try:
        await outage_and_recovery(api, bao, binance, settings, stored, connection_id, outcomes, outage)
    finally:
        stop.set()
        await user
    recovered = await synced_once_more(api)
    assert (recovered["state"], recovered["last_error"]) == ("ok", None)
    assert not any(item["stale"] for item in (await api.get("/v1/balances")).json()["items"])


async def outage_and_recovery(api, bao, binance, settings, stored, connection_id, outcomes, outage) -> None:
    await eventually(lambda: asyncio.sleep(0, len(outcomes) > 3))
    if outage == "killed":
        bao.kill()
    else:
        bao.seal()

    async def readiness_says_down() -> bool:
        response = await api.get("/readyz")
        return bool(response.status_code == 503 and response.json()["vault"] == "down")

    await eventually(readiness_says_down, timeout=15)
    assert (await api.get("/healthz")).status_code == 200
    assert (await api.get("/readyz")).json()["database"] == "ok"
    assert REGISTRY.get_sample_value("tallyhold_vault_up") == 0

    other_key, other_secret = new_key("outage"), new_key("secret")
    binance.add_key(other_key, other_secret)
    seen = binance.last_seq()
    refused = await api.post(
        "/v1/connections/exchange",
        json={"exchange": "binance", "label": "Z second", "api_key": other_key, "api_secret": other_secret},
    )
    assert_error(refused, 503, "vault_unavailable")
    replaced = await api.put(
        f"/v1/connections/{connection_id}/credentials", json={"api_key": other_key, "api_secret": other_secret}
    )
    assert_error(replaced, 503, "vault_unavailable")
    assert binance.requests(seen) == []  # refused before asking the exchange
    assert other_secret not in refused.text + replaced.text

    paused = await synced_once_more(api)
    assert paused["last_error"] == "vault_unavailable"
    assert paused["stale"] is True
    assert paused["state"] == "stale"  # paused, not `error`: nothing is wrong with the key
    balances = (await api.get("/v1/balances")).json()["items"]
    assert balances
    assert all(item["stale"] for item in balances)
    assert (await api.get(f"/v1/connections/{connection_id}")).json()["status"] == "active"
    assert await ciphertexts(settings) == stored  # nothing rewritten, nothing in clear
    await eventually(lambda: asyncio.sleep(0, "vault_unavailable" in outcomes))

    # OpenBao comes back (same storage, same port; unsealed by our helper): no restart of the instance.
    recovery_started = time.monotonic()
    if outage == "killed":
        bao.restart()
    else:
        bao.unseal()

    async def ready() -> bool:
        return bool((await api.get("/readyz")).status_code == 200)

    await eventually(ready, timeout=RECOVERY_DEADLINE)
    count = len(outcomes)
    await eventually(lambda: asyncio.sleep(0, outcomes[count:].count("ok") >= 2), timeout=RECOVERY_DEADLINE)
    assert time.monotonic() - recovery_started < RECOVERY_DEADLINE
    again = await api.post(
        "/v1/connections/exchange",
        json={"exchange": "binance", "label": "Z second", "api_key": other_key, "api_secret": other_secret},
    )
    assert again.status_code == 201, again.text
