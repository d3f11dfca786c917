"""The exchange-connection routes end to end: the real verifier asks the Binance sandbox (through the egress
worker) what a key may do, the cipher encrypts with the tenant's OpenBao key, and nothing is stored or
encrypted unless the answer is a success. No answer repeats what was sent."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tallyhold.app import create_app
from tallyhold.credentials import service as credentials
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import Connection
from tallyhold.settings import Settings
from tests.fixtures.instance import assert_error, count_rows, instance_settings, runtime_of
from tests.fixtures.sandbox import new_key

SECRET_COLUMNS = ("api_key_ct", "api_secret_ct", "passphrase_ct", "uid_ct")


@pytest.fixture(scope="module")
def settings(tenant, vault_tenant, sandbox) -> Settings:
    return instance_settings(
        tenant, **vault_tenant.settings(), EXCHANGE_API_OVERRIDES={"binance": sandbox.url("binance")}
    )


@pytest.fixture(scope="module")
def binance(sandbox):
    return sandbox.control("binance")


@pytest.fixture
async def sessions(settings, clean_tenant):
    engine = create_engine(settings, process="test")
    yield create_session_maker(engine)
    await engine.dispose()


def encrypt_calls() -> float:
    return sum(
        REGISTRY.get_sample_value("tallyhold_vault_requests_total", {"op": "encrypt", "outcome": o}) or 0.0
        for o in ("ok", "unavailable", "denied", "rejected")
    )


def sandbox_key(binance, permissions=("read",)) -> tuple[str, str]:
    api_key, secret = new_key("canary"), new_key("secret") + "/+="
    binance.add_key(api_key, secret, permissions=permissions, balances={"spot": {"BTC": "1"}})
    return api_key, secret


def body(api_key: str, secret: object, **extra: Any) -> dict[str, Any]:
    return {"exchange": "binance", "label": "Main", "api_key": api_key, "api_secret": secret, **extra}


async def row(sessions, connection_id: str) -> Connection | None:
    async with transaction(sessions) as session:
        found: Connection | None = (
            await session.scalars(select(Connection).where(Connection.id == uuid.UUID(connection_id)))
        ).one_or_none()
        return found


async def test_create_stores_only_ciphertext_and_the_hint(client, binance, sessions, app) -> None:
    api_key, secret = sandbox_key(binance)
    before = encrypt_calls()
    response = await client.post("/v1/connections/exchange", json=body(api_key, secret))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "exchange"
    assert created["key_hint"] == api_key[-4:]
    assert created["permissions"] == {
        "read": True,
        "trade": False,
        "withdraw": False,
        "transfer": False,
        "verified_by": "exchange",
    }
    assert created["status"] == "active"
    assert api_key not in response.text
    assert secret not in response.text
    assert "vault:" not in response.text
    assert encrypt_calls() == before + 1  # both fields in one batch

    stored = await row(sessions, created["id"])
    assert stored is not None
    assert stored.api_key_ct is not None
    assert stored.api_key_ct.startswith("vault:v")
    assert stored.api_secret_ct is not None
    assert stored.api_secret_ct.startswith("vault:v")
    assert (stored.passphrase_ct, stored.uid_ct) == (None, None)
    async with transaction(sessions) as session:
        cipher = runtime_of(app).cipher
        opened = await credentials.open_key(session, cipher, stored.id)
        assert (opened.api_key.get_secret_value(), opened.api_secret.get_secret_value()) == (api_key, secret)


async def test_a_key_that_can_trade_is_refused_before_any_encrypt(client, binance) -> None:
    api_key, secret = sandbox_key(binance, permissions=("read", "trade", "withdraw"))
    before = encrypt_calls()
    response = await client.post("/v1/connections/exchange", json=body(api_key, secret))
    error = assert_error(response, 422, "write_permissions")
    assert error["switch_off"]
    assert secret not in response.text
    assert encrypt_calls() == before
    assert await count_rows(client) == 0


async def test_an_unknown_key_is_refused(client, binance) -> None:
    before = encrypt_calls()
    response = await client.post("/v1/connections/exchange", json=body(new_key("nobody"), new_key("secret")))
    assert_error(response, 422, "invalid_credentials")
    assert encrypt_calls() == before
    assert await count_rows(client) == 0


async def test_an_unsupported_exchange_is_refused(client) -> None:
    before = encrypt_calls()
    response = await client.post(
        "/v1/connections/exchange", json={**body(new_key(), new_key("secret")), "exchange": "notavenue"}
    )
    assert_error(response, 400, "unsupported_exchange")
    assert encrypt_calls() == before
    assert await count_rows(client) == 0


async def test_replace_credentials(client, binance, sessions) -> None:
    old_key, old_secret = sandbox_key(binance)
    created = (await client.post("/v1/connections/exchange", json=body(old_key, old_secret))).json()
    before = await row(sessions, created["id"])
    assert before is not None

    write_key, write_secret = sandbox_key(binance, permissions=("read", "trade"))
    refused = await client.put(
        f"/v1/connections/{created['id']}/credentials", json={"api_key": write_key, "api_secret": write_secret}
    )
    assert_error(refused, 422, "write_permissions")
    unchanged = await row(sessions, created["id"])
    assert unchanged is not None
    assert [getattr(unchanged, c) for c in SECRET_COLUMNS] == [getattr(before, c) for c in SECRET_COLUMNS]

    new_api_key, new_secret = sandbox_key(binance)
    response = await client.put(
        f"/v1/connections/{created['id']}/credentials", json={"api_key": new_api_key, "api_secret": new_secret}
    )
    assert response.status_code == 200, response.text
    assert response.json()["key_hint"] == new_api_key[-4:]
    assert new_secret not in response.text
    after = await row(sessions, created["id"])
    assert after is not None
    assert after.api_key_ct != before.api_key_ct
    assert after.api_secret_ct != before.api_secret_ct


async def test_replace_credentials_only_for_exchange_connections(client) -> None:
    key = {"api_key": new_key(), "api_secret": new_key("secret")}
    assert_error(await client.put(f"/v1/connections/{uuid.uuid4()}/credentials", json=key), 404, "not_found")
    manual = (await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "1"})).json()
    response = await client.put(f"/v1/connections/{manual['id']}/credentials", json=key)
    assert_error(response, 422, "not_exchange_connection")


async def test_delete_removes_the_ciphertexts(client, binance, sessions) -> None:
    api_key, secret = sandbox_key(binance)
    created = (await client.post("/v1/connections/exchange", json=body(api_key, secret))).json()
    assert (await client.delete(f"/v1/connections/{created['id']}")).status_code == 204
    assert await row(sessions, created["id"]) is None


@pytest.mark.parametrize(
    "sent",
    [
        {"exchange": "binance", "label": "Main", "api_key": "AKIDcanary0000ROUTE9f3e"},  # api_secret missing
        body("AKIDcanary0000ROUTE9f3e", 12345678),  # wrong type
        body("AKIDcanary0000ROUTE9f3e", "sEcReT/canary+route=9f3e", unexpected="sEcReT/canary+route=9f3e"),
        body("AKIDcanary0000ROUTE9f3e", "sEcReT/canary+route=9f3e", **{"sEcReT/canary+route=9f3e": "x"}),
        body("abc", "sEcReT/canary+route=9f3e"),  # too short
        {**body("AKIDcanary0000ROUTE9f3e", "sEcReT/canary+route=9f3e"), "exchange": "Not An Id!"},
        body("AKIDcanary0000ROUTE9f3e", "sEcReT/canary+route=9f3e", acknowledge_unverifiable="yes please"),
    ],
)
async def test_invalid_bodies_are_refused_without_echo(client, sent: dict[str, Any]) -> None:
    response = await client.post("/v1/connections/exchange", json=sent)
    error = assert_error(response, 422, "invalid_request")
    assert error["fields"]
    assert all({"loc", "type", "msg"} == set(f) for f in error["fields"])
    assert "AKIDcanary0000ROUTE9f3e" not in response.text
    assert "sEcReT/canary+route=9f3e" not in response.text
    assert '"input"' not in response.text
    assert await count_rows(client) == 0


async def test_openapi_documents_secret_fields_as_write_only_without_examples(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    for model in ("ExchangeConnectionCreate", "CredentialsReplace"):
        properties = schema["components"]["schemas"][model]["properties"]
        for name in ("api_key", "api_secret"):
            assert (properties[name]["format"], properties[name]["writeOnly"]) == ("password", True)
            assert not {"example", "examples", "default"} & set(properties[name])
    assert "/v1/connections/exchange" in schema["paths"]
    assert "/v1/connections/{connection_id}/credentials" in schema["paths"]


async def test_readiness_reports_vault(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "vault": "ok"}


async def test_without_vault_nothing_is_asked_or_stored(tenant, token: str, binance, sandbox) -> None:
    api_key, secret = sandbox_key(binance)
    seen = binance.last_seq()
    app = create_app(instance_settings(tenant, EXCHANGE_API_OVERRIDES={"binance": sandbox.url("binance")}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://i.test", headers=headers) as client:
            response = await client.post("/v1/connections/exchange", json=body(api_key, secret))
            assert_error(response, 503, "vault_unavailable")
            assert (await client.get("/readyz")).json()["vault"] == "not_configured"
            assert await count_rows(client) == 0
    assert binance.requests(seen) == []
