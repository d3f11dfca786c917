"""The pages' security: cookie flags and rotation, CSRF refusals (nothing done), sessions ended by a revoked or
expired token, and the sign-in throttle shared with the API's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tallyhold.auth import service as token_service
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.web.rendering import CONTENT_SECURITY_POLICY
from tests.fixtures.platform import Tenant
from tests.tracker.web.conftest import Served, Visit, in_thread

COOKIE = "__Host-tallyhold_session"


def _session_cookie(visit: Visit) -> dict[str, Any]:
    return dict(next(c for c in visit.context.cookies() if c["name"] == COOKIE))


def _sessions_of(served: Served, tenant: Tenant, token_id: str) -> int:
    async def count() -> int:
        engine = create_engine(served.settings, process="test", url=tenant.admin_url)
        try:
            async with engine.begin() as connection:
                result = await connection.exec_driver_sql(
                    "SELECT count(*) FROM web_sessions WHERE token_id = %(id)s", {"id": token_id}
                )
                return int(result.scalar_one())
        finally:
            await engine.dispose()

    return in_thread(count)


def _token_id(token: str) -> str:
    return token.split("_")[1]


def test_cookie_flags_and_rotation_at_sign_in(visit: Visit, served: Served, tenant: Tenant, clean: None) -> None:
    token = served.token()
    visit.sign_in(token)
    first = _session_cookie(visit)
    assert first["httpOnly"] is True
    assert first["secure"] is True
    assert first["sameSite"] == "Strict"
    assert first["path"] == "/"
    assert first["expires"] > datetime.now(UTC).timestamp()  # a lifetime, not a browser-session cookie
    assert token not in first["value"]
    # Signing in again from the same browser replaces the session: a new id, and the old one is dead.
    visit.goto("/sign-in")
    visit.page.fill("#token", token)
    visit.page.click("main button[type=submit]")
    visit.page.wait_for_url(served.url + "/")
    second = _session_cookie(visit)
    assert second["value"] != first["value"]
    assert _sessions_of(served, tenant, _token_id(token)) == 1
    old = httpx.get(served.url + "/", headers={"Cookie": f"{COOKIE}={first['value']}"})
    assert old.status_code == 303


def test_csp_on_every_page_without_unsafe_inline(visit: Visit, served: Served, clean: None) -> None:
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    visit.sign_in(served.token())
    for path in ("/", "/connections", "/connections/new/exchange", "/connections/new/wallet", "/sign-in"):
        response = visit.page.goto(served.url + path)
        assert response is not None
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["cache-control"] == "no-store"


def test_state_changing_forms_refuse_a_missing_or_wrong_csrf_token(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    visit.sign_in(token)
    cookie = {"Cookie": f"{COOKIE}={_session_cookie(visit)['value']}"}
    form = {"label": "Sneaky", "asset": "USD", "amount": "1"}
    with httpx.Client(base_url=served.url, headers=cookie) as browserless:
        assert browserless.post("/connections/new/manual", data=form).status_code == 403
        assert browserless.post("/connections/new/manual", data={**form, "csrf_token": "forged"}).status_code == 403
        assert browserless.post("/sync", data={}).status_code == 403
        assert browserless.post("/sign-out", data={}).status_code == 403
    # The right token from another origin is refused too.
    csrf = visit.page.get_attribute("input[name=csrf_token]", "value")
    with httpx.Client(base_url=served.url, headers={**cookie, "Origin": "https://evil.example"}) as other:
        assert other.post("/connections/new/manual", data={**form, "csrf_token": csrf}).status_code == 403
    # The sign-in form has its own token, bound to a cookie: a cross-site sign-in post is refused.
    assert httpx.post(served.url + "/sign-in", data={"token": token}).status_code == 403
    with served.api(token) as api:
        assert api.get("/v1/connections").json()["items"] == []
    # And with its token, the same form works (the check is not refusing everything).
    with httpx.Client(base_url=served.url, headers=cookie) as browserless:
        done = browserless.post("/connections/new/manual", data={**form, "csrf_token": csrf})
    assert done.status_code == 303


def test_a_revoked_token_ends_its_sessions(visit: Visit, served: Served, clean: None) -> None:
    token = served.token()
    visit.sign_in(token)

    async def revoke() -> None:
        engine = create_engine(served.settings, process="test")
        try:
            async with transaction(create_session_maker(engine)) as session:
                await token_service.revoke(session, _token_id(token))
        finally:
            await engine.dispose()

    in_thread(revoke)
    visit.goto("/connections")
    assert visit.page.url == served.url + "/sign-in"


def test_an_expired_token_ends_its_sessions(visit: Visit, served: Served, tenant: Tenant, clean: None) -> None:
    token = served.token()
    visit.sign_in(token)

    async def expire() -> None:
        engine = create_engine(served.settings, process="test", url=tenant.admin_url)
        try:
            async with engine.begin() as connection:
                await connection.exec_driver_sql(
                    "UPDATE access_tokens SET expires_at = %(at)s WHERE id = %(id)s",
                    {"at": datetime.now(UTC) - timedelta(seconds=1), "id": _token_id(token)},
                )
        finally:
            await engine.dispose()

    in_thread(expire)
    visit.goto("/")
    assert visit.page.url == served.url + "/sign-in"
    assert _sessions_of(served, tenant, _token_id(token)) == 0


@pytest.mark.parametrize("path", ["/", "/connections", "/connections/new/manual"])
def test_pages_need_a_session(served: Served, path: str) -> None:
    answer = httpx.get(served.url + path)
    assert answer.status_code == 303
    assert re.fullmatch("/sign-in", answer.headers["location"])
