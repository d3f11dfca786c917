"""Every /v1 route needs a valid bearer token; tokens are stored hashed and can be revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from tallyhold.app import create_app
from tallyhold.auth import service as token_service
from tallyhold.auth.service import TOKEN_PATTERN
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import AccessToken
from tallyhold.settings import Settings
from tests.fixtures.instance import issue_token, offline_settings
from tests.fixtures.platform import Tenant

DUMMY_ID = "00000000-0000-0000-0000-000000000000"


def _v1_routes() -> list[tuple[str, str]]:
    """Every /v1 route the app declares (today's and any added later), with path parameters filled in."""
    settings = offline_settings()
    routes = []
    for path, operations in create_app(settings).openapi()["paths"].items():
        if path.startswith("/v1"):
            filled = re.sub(r"\{[^}]+\}", DUMMY_ID, path)
            routes += [(method.upper(), filled) for method in sorted(operations)]
    return routes


V1_ROUTES = _v1_routes()


def test_the_route_list_is_not_empty() -> None:
    assert ("GET", "/v1/networth") in V1_ROUTES
    assert ("POST", "/v1/connections/manual") in V1_ROUTES


@pytest.mark.parametrize(("method", "path"), V1_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer th_000000000000_" + "A" * 43,
        "Bearer not-a-token",
        "bearer th_zz",
    ],
)
async def test_missing_or_wrong_token_is_401(
    anonymous: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await anonymous.request(method, path, headers=headers, json={"label": "x"})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "unauthorized", "message": "A valid bearer token is required."}}
    assert response.headers["www-authenticate"] == "Bearer"


async def test_valid_token_works_and_revoked_token_does_not(
    anonymous: httpx.AsyncClient, settings: Settings, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get("/v1/connections", headers=headers)).status_code == 200

    token_id = token[3:15]
    engine = create_engine(settings, process="test")
    try:
        async with transaction(create_session_maker(engine)) as session:
            await token_service.revoke(session, token_id)
    finally:
        await engine.dispose()
    assert (await anonymous.get("/v1/connections", headers=headers)).status_code == 401


async def test_an_expired_token_is_refused_like_a_revoked_one(
    anonymous: httpx.AsyncClient, settings: Settings, tenant: Tenant, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    assert (await anonymous.get("/v1/connections", headers=headers)).status_code == 200
    # Time passes: the token's expiry is moved into the past.
    engine = create_engine(settings, process="test", url=tenant.admin_url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("UPDATE access_tokens SET expires_at = now() - interval '1 second'")
    finally:
        await engine.dispose()
    for path in ("/v1/connections", "/v1/networth"):
        response = await anonymous.get(path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    # A write route that waits on the network before it writes refuses it too.
    exchange = {"exchange": "binance", "label": "x", "api_key": "k" * 16, "api_secret": "s" * 16}
    assert (await anonymous.post("/v1/connections/exchange", headers=headers, json=exchange)).status_code == 401


async def test_a_token_lifetime_is_bounded(settings: Settings, clean_tenant: None) -> None:
    for lifetime in (timedelta(0), timedelta(days=-1), timedelta(days=3651)):
        with pytest.raises(ValueError, match="lifetime"):
            await issue_token(settings, "bounded", lifetime)


async def test_a_token_with_the_right_id_but_wrong_secret_is_refused(anonymous: httpx.AsyncClient, token: str) -> None:
    match = TOKEN_PATTERN.fullmatch(token)
    assert match is not None
    forged = f"th_{match['id']}_{'B' * 43}"
    response = await anonymous.get("/v1/connections", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_tokens_are_stored_as_digests_only(settings: Settings, token: str) -> None:
    match = TOKEN_PATTERN.fullmatch(token)
    assert match is not None
    secret = match["secret"]
    engine = create_engine(settings, process="test")
    try:
        async with transaction(create_session_maker(engine)) as session:
            rows = list(await session.scalars(select(AccessToken)))
    finally:
        await engine.dispose()
    assert len(rows) == 1
    assert rows[0].secret_hash == hashlib.sha256(secret.encode()).digest()
    assert token not in repr(rows[0].__dict__)


async def test_health_routes_need_no_token(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
