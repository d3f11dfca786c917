"""Exchange connections in a running instance: the routes ask the real verifier (egress worker subprocess),
nothing is stored or encrypted on a refusal, a sync reads every wallet, and a key that gains a write right is
quarantined on the next sync without a single balance call. Vault (OpenBao) and the sandbox venues are real."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import assert_error, count_rows, instance_settings, sync_now
from tests.fixtures.sandbox import sandbox_key
from tests.tracker.exchanges.canned import Canned
from tests.tracker.exchanges.documented import UNVERIFIABLE, VERIFIED
from tests.tracker.exchanges.test_binance import WALLETS as BINANCE_WALLETS
from tests.tracker.exchanges.test_documented_venues import key as documented_key
from tests.tracker.exchanges.test_documented_venues import serve
from tests.tracker.exchanges.test_sandbox_venues import VENUES

EGRESS_IP = "203.0.113.7"
BINANCE_EXPECTED = {
    ("BTC", "spot"): "0.6", ("USDT", "spot"): "100", ("LDO", "spot"): "3", ("USDT", "funding"): "5",
    ("BTC", "earn"): "0.2", ("USDC", "earn"): "40", ("ETH", "earn"): "1", ("DOT", "staked"): "10",
    ("BTC", "margin"): "0.01", ("USDT", "futures"): "50", ("BTC", "futures"): "0.3",
}  # fmt: skip
CASES = {"binance": (BINANCE_WALLETS, BINANCE_EXPECTED), **{v: (e.wallets, e.expected) for v, e in VENUES.items()}}
FIRST_CALL = {"binance": "GET /sapi/v1/account/apiRestrictions", "kraken": "POST /0/private/GetApiKeyInfo"}


@pytest.fixture(scope="module")
def settings(tenant: Any, vault_tenant: Any, sandbox: Sandbox, canned_server: Canned) -> Settings:
    overrides = {**sandbox.urls, **dict.fromkeys([*VERIFIED, *UNVERIFIABLE], canned_server.url)}
    return instance_settings(tenant, **vault_tenant.settings(), EXCHANGE_API_OVERRIDES=overrides, EGRESS_IPS=EGRESS_IP)


def encrypt_calls() -> float:
    return sum(
        REGISTRY.get_sample_value("tallyhold_vault_requests_total", {"op": "encrypt", "outcome": o}) or 0.0
        for o in ("ok", "unavailable", "denied", "rejected")
    )


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@pytest.mark.parametrize("venue", sorted(CASES))
async def test_connect_sync_and_quarantine_on_drift(client: httpx.AsyncClient, sandbox: Sandbox, venue: str) -> None:
    wallets, expected = CASES[venue]
    body = sandbox_key(sandbox, venue, ("read",), balances=wallets)
    created = await client.post("/v1/connections/exchange", json=body)
    assert created.status_code == 201, created.text
    connection = created.json()
    assert connection["permissions"] == {
        "read": True, "trade": False, "withdraw": False, "transfer": False, "verified_by": "exchange"
    }  # fmt: skip
    assert connection["key_hint"] == body["api_key"][-4:]
    assert connection["status"] == "active"
    if connection["ip_restricted"] is False:
        assert any(EGRESS_IP in warning for warning in connection["warnings"])

    await sync_now(client)
    items = (await client.get("/v1/balances")).json()["items"]
    held = {(i["asset"], i["location"]): i["amount"] for i in items if i["connection_id"] == connection["id"]}
    assert held == expected

    # The key gains a withdrawal right on the exchange: the next sync quarantines it before reading anything.
    control = sandbox.control(venue)
    control.set_permissions(body["api_key"], ["read", "withdraw"])
    since = control.last_seq()
    quarantines = metric("tallyhold_quarantines_total")
    await sync_now(client)
    after = (await client.get(f"/v1/connections/{connection['id']}")).json()
    assert after["status"] == "quarantined"
    assert after["last_error"] == "write_permissions"
    assert metric("tallyhold_quarantines_total") == quarantines + 1
    calls = [f"{e['method']} {e['path']}" for e in control.requests(since) if e["key_hint"] == body["api_key"][-4:]]
    assert len(calls) == 1
    assert calls[0] == FIRST_CALL.get(venue, calls[0])
    # ... and no call is ever made with it again
    since = control.last_seq()
    await sync_now(client)
    assert [e for e in control.requests(since) if e["key_hint"] == body["api_key"][-4:]] == []


@pytest.mark.parametrize("venue", sorted(CASES))
async def test_a_write_capable_key_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, sandbox: Sandbox, venue: str
) -> None:
    body = sandbox_key(sandbox, venue, ("read", "trade"))
    before = encrypt_calls()
    rejected = metric("tallyhold_credentials_rejected_total", {"code": "write_permissions"})
    response = await client.post("/v1/connections/exchange", json=body)
    error = assert_error(response, 422, "write_permissions")
    assert error["switch_off"]
    assert all(words in error["message"] for words in error["switch_off"])
    assert body["api_secret"] not in response.text
    assert encrypt_calls() == before
    assert await count_rows(client) == 0
    assert metric("tallyhold_credentials_rejected_total", {"code": "write_permissions"}) == rejected + 1


async def test_an_unverifiable_venue_needs_the_acknowledgement(client: httpx.AsyncClient, canned: Canned) -> None:
    probed = UNVERIFIABLE["bitvavo"]
    for (method, path), answer in probed.balances.items():
        canned.answer(method, path, answer)
    canned.answer(*probed.probe, probed.denied[1], probed.denied[0])
    body = {"exchange": "bitvavo", "label": "Bitvavo", "api_key": "a" * 64, "api_secret": "b" * 64}
    before = encrypt_calls()
    assert_error(await client.post("/v1/connections/exchange", json=body), 422, "unverifiable_permissions")
    assert canned.seen == []
    assert encrypt_calls() == before
    response = await client.post("/v1/connections/exchange", json={**body, "acknowledge_unverifiable": True})
    assert response.status_code == 201, response.text
    connection = response.json()
    assert connection["permissions"] == {
        "read": True, "trade": False, "withdraw": None, "transfer": None, "verified_by": "unverifiable"
    }  # fmt: skip
    assert any("read-only" in warning for warning in connection["warnings"])
    assert canned.paths() == ["GET /v2/balance", "DELETE /v2/order"]


@pytest.mark.parametrize("venue", sorted(VERIFIED))
async def test_documented_venues_refuse_write_keys_and_store_nothing(
    client: httpx.AsyncClient, canned: Canned, venue: str
) -> None:
    documented = VERIFIED[venue]
    wire = documented_key(venue)
    serve(canned, documented.write, wire.api_key.get_secret_value())
    body = {"exchange": venue, "label": venue, "api_key": wire.api_key.get_secret_value(),
            "api_secret": wire.api_secret.get_secret_value(), "passphrase": "pass-" + venue}  # fmt: skip
    before = encrypt_calls()
    error = assert_error(await client.post("/v1/connections/exchange", json=body), 422, "write_permissions")
    assert error["switch_off"] == documented.switch_off
    assert encrypt_calls() == before
    assert await count_rows(client) == 0
