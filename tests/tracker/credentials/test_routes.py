"""The exchange-connection routes with the default verifier: nothing is ever stored or encrypted on the
strength of a check nobody made, and no answer repeats what was sent."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from tallyhold.app import create_app
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import Connection
from tests.fixtures.instance import instance_settings
from tests.tracker.api.helpers import assert_error, count_rows
from tests.tracker.credentials.stored import exchange_key, store_exchange_connection

KEY = "AKIDcanary0000ROUTE9f3e"
SECRET = "sEcReT/canary+route=9f3e"


def _encrypts() -> float:
    return sum(
        REGISTRY.get_sample_value("tallyhold_vault_requests_total", {"op": "encrypt", "outcome": o}) or 0.0
        for o in ("ok", "unavailable", "denied", "rejected")
    )


def _body(**extra: object) -> dict[str, object]:
    return {"exchange": "binance", "label": "Main", "api_key": KEY, "api_secret": SECRET, **extra}


async def test_default_verifier_refuses_every_exchange_before_any_encrypt(client: httpx.AsyncClient) -> None:
    before = _encrypts()
    response = await client.post("/v1/connections/exchange", json=_body(passphrase="canary-pass-9f3e"))
    assert_error(response, 400, "unsupported_exchange")
    assert KEY not in response.text
    assert SECRET not in response.text
    assert await count_rows(client) == 0
    assert _encrypts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"exchange": "binance", "label": "Main", "api_key": KEY},  # api_secret missing
        _body(api_secret=12345678),  # wrong type
        _body(**{"unexpected": SECRET}),  # extra field carrying a secret
        _body(**{SECRET: "x"}),  # a secret pasted as a key
        _body(api_key="abc"),  # too short
        _body(exchange="Not An Id!"),
        _body(acknowledge_unverifiable="yes please"),
    ],
)
async def test_invalid_bodies_are_refused_without_echo(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/v1/connections/exchange", json=body)
    error = assert_error(response, 422, "invalid_request")
    assert error["fields"]
    assert all({"loc", "type", "msg"} == set(f) for f in error["fields"])
    assert KEY not in response.text
    assert SECRET not in response.text
    assert '"input"' not in response.text
    assert await count_rows(client) == 0


async def test_replace_credentials(client: httpx.AsyncClient, cipher, settings) -> None:
    missing = await client.put(
        f"/v1/connections/{uuid.uuid4()}/credentials", json={"api_key": KEY, "api_secret": SECRET}
    )
    assert_error(missing, 404, "not_found")

    manual = (await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "1"})).json()
    response = await client.put(
        f"/v1/connections/{manual['id']}/credentials", json={"api_key": KEY, "api_secret": SECRET}
    )
    assert_error(response, 422, "not_exchange_connection")

    engine = create_engine(settings, process="test")
    sessions = create_session_maker(engine)
    try:
        async with transaction(sessions) as session:
            connection_id = await store_exchange_connection(
                session, cipher, settings.DB_SCHEMA, exchange_key("old-key-0001", "old-secret-0001")
            )
        async with transaction(sessions) as session:
            before = (await session.scalars(select(Connection).where(Connection.id == connection_id))).one()
        encrypts = _encrypts()
        response = await client.put(
            f"/v1/connections/{connection_id}/credentials", json={"api_key": KEY, "api_secret": SECRET}
        )
        assert_error(response, 400, "unsupported_exchange")
        assert _encrypts() == encrypts
        async with transaction(sessions) as session:
            after = (await session.scalars(select(Connection).where(Connection.id == connection_id))).one()
        assert (after.api_key_ct, after.api_secret_ct, after.key_hint) == (
            before.api_key_ct,
            before.api_secret_ct,
            "0001",
        )
        listed = (await client.get(f"/v1/connections/{connection_id}")).json()
        assert listed["key_hint"] == "0001"
        assert not {"api_key", "api_secret", "passphrase", "uid"} & set(listed)
        assert all("vault:" not in str(value) for value in listed.values())
    finally:
        await engine.dispose()


async def test_openapi_documents_secret_fields_as_write_only_without_examples(anonymous: httpx.AsyncClient) -> None:
    schema = (await anonymous.get("/openapi.json")).json()
    create = schema["components"]["schemas"]["ExchangeConnectionCreate"]
    for name in ("api_key", "api_secret"):
        field = create["properties"][name]
        assert (field["format"], field["writeOnly"]) == ("password", True)
        assert "example" not in field
        assert "examples" not in field
        assert "default" not in field
    assert "/v1/connections/exchange" in schema["paths"]
    assert "/v1/connections/{connection_id}/credentials" in schema["paths"]


async def test_readiness_reports_vault(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "vault": "ok"}


async def test_without_vault_credentials_cannot_be_stored(tenant, token: str) -> None:
    app = create_app(instance_settings(tenant))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://i.test", headers=headers) as client:
            response = await client.post("/v1/connections/exchange", json=_body())
            assert_error(response, 503, "vault_unavailable")
            assert (await client.get("/readyz")).json()["vault"] == "not_configured"
            assert await count_rows(client) == 0
