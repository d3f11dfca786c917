"""The API's bearer-token check (auth/lookup.py): one autocommit statement per request, no ORM session, and
still exact: whatever revoked or expired a token, whichever process, the very next request is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from tallyhold.auth import service as token_service
from tallyhold.auth.lookup import TokenLookup
from tallyhold.db import create_engine, transaction
from tallyhold.errors import ServiceUnavailable
from tallyhold.portfolio import cache as answers
from tallyhold.settings import Settings
from tests.fixtures.instance import issue_token, runtime_of, settings_env
from tests.fixtures.platform import Tenant

CACHED_ROUTES = ("/v1/networth", "/v1/balances")


@pytest.fixture
def api(anonymous: httpx.AsyncClient) -> httpx.AsyncClient:
    """The instance's API, no token unless a test sends one."""
    return anonymous


@pytest.fixture
def transactions_begun() -> Iterator[list[str]]:
    """Every transaction any SQLAlchemy engine of this process begins while the test runs."""
    begun: list[str] = []

    def note(connection: object) -> None:
        begun.append("begin")

    event.listen(Engine, "begin", note)
    try:
        yield begun
    finally:
        event.remove(Engine, "begin", note)


async def _warm(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Each cached route answered once, so the next requests are served from the answer cache."""
    for path in CACHED_ROUTES:
        assert (await api.get(path, headers=headers)).status_code == 200


async def _execute_as_admin(tenant: Tenant, settings: Settings, statement: str) -> None:
    engine = create_engine(settings, process="test", url=tenant.admin_url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _assert_refused(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path in CACHED_ROUTES:
        response = await api.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.json() == {"error": {"code": "unauthorized", "message": "A valid bearer token is required."}}


async def test_a_cached_answer_opens_no_transaction_and_the_token_check_is_one_statement(
    api: httpx.AsyncClient, app: FastAPI, token: str, transactions_begun: list[str]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await _warm(api, headers)
    await runtime_of(app).last_used.aclose()  # the first use's last-used write (its own transaction) is done
    await answers.settle()  # and any refresh it started, off the request path
    transactions_begun.clear()
    for _ in range(5):
        for path in CACHED_ROUTES:
            assert (await api.get(path, headers=headers)).status_code == 200
    assert transactions_begun == []


async def test_revoked_by_another_process_with_the_cli_the_very_next_request_is_401(
    api: httpx.AsyncClient, settings: Settings, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await _warm(api, headers)
    revoked = subprocess.run(
        [sys.executable, "-m", "tallyhold.cli", "token", "revoke", token[3:15]],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    await _assert_refused(api, headers)


async def test_revoked_through_the_instances_own_database_pool_the_very_next_request_is_401(
    api: httpx.AsyncClient, app: FastAPI, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await _warm(api, headers)
    async with transaction(runtime_of(app).session_maker) as session:
        await token_service.revoke(session, token[3:15])
    await _assert_refused(api, headers)


@pytest.mark.parametrize(
    "change",
    [
        # What the provisioner's `revoke-token` amounts to: an UPDATE committed by a process the instance does
        # not know of.
        "UPDATE access_tokens SET revoked_at = now()",
        # Time passes: the expiry is moved into the past.
        "UPDATE access_tokens SET expires_at = now() - interval '1 second'",
    ],
    ids=["revoked-by-an-operator", "expired"],
)
async def test_revoked_or_expired_in_the_database_the_very_next_request_is_401(
    api: httpx.AsyncClient, settings: Settings, tenant: Tenant, token: str, change: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await _warm(api, headers)
    await _execute_as_admin(tenant, settings, f"{change} WHERE id = '{token[3:15]}'")
    await _assert_refused(api, headers)


async def test_a_token_issued_while_the_instance_runs_works_at_once_and_others_stay_refused(
    api: httpx.AsyncClient, settings: Settings, token: str
) -> None:
    await _warm(api, {"Authorization": f"Bearer {token}"})
    later = await issue_token(settings, "later")
    for path in CACHED_ROUTES:
        assert (await api.get(path, headers={"Authorization": f"Bearer {later}"})).status_code == 200
    forged = f"{later[:16]}{'A' * 43}"  # the new token's id with a wrong secret
    await _assert_refused(api, {"Authorization": f"Bearer {forged}"})


async def test_the_check_survives_its_connection_being_killed(
    api: httpx.AsyncClient, settings: Settings, tenant: Tenant, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    await _warm(api, headers)
    # Postgres restarted, or an operator ended the backend: the lookup reconnects once and answers exactly.
    await _execute_as_admin(
        tenant,
        settings,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE application_name = '{settings.customer_id}.auth'",
    )
    assert (await api.get("/v1/networth", headers=headers)).status_code == 200
    await _execute_as_admin(tenant, settings, f"UPDATE access_tokens SET revoked_at = now() WHERE id = '{token[3:15]}'")
    await _assert_refused(api, headers)


async def test_an_unreachable_database_refuses_the_request_and_names_no_secret(settings: Settings) -> None:
    # A port nothing listens on (no connection within the wait): 503, never a remembered answer.
    url: URL = settings.database.engine_url.set(port=1, password="hunter2-not-a-real-password")
    lookup = TokenLookup(url, settings.database.schema_name, "test.auth", connections=2, wait_seconds=1)
    assert "hunter2" not in repr(lookup)
    await lookup.open()
    try:
        with pytest.raises(ServiceUnavailable) as refused:
            await lookup.get("0123456789ab")
    finally:
        await lookup.aclose()
    assert refused.value.code == "database_unavailable"
    assert refused.value.__cause__ is None
    assert "hunter2" not in str(refused.value)
