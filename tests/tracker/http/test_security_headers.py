"""Every answer carries the security headers, error answers included; `/v1` answers are never cached; a
Content-Security-Policy a route sets itself (the web pages) is kept. HSTS over TLS: test_tls.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from tallyhold.api.middleware import DEFAULT_CSP

PAGE_CSP = "default-src 'self'; frame-ancestors 'none'"


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain HTTP here


@pytest_asyncio.fixture
async def extended(app: FastAPI, clean_tenant: None) -> AsyncIterator[httpx.AsyncClient]:
    """The instance's app plus two routes standing for what other parts of it do: an HTML page with its own
    CSP, and a route that fails with an unexpected exception (answered 500 by Starlette's outermost layer)."""

    async def page() -> HTMLResponse:
        return HTMLResponse("<p>page</p>", headers={"Content-Security-Policy": PAGE_CSP})

    async def broken() -> None:
        raise RuntimeError("unexpected")

    if not any(getattr(route, "path", None) == "/test-page" for route in app.routes):
        app.add_api_route("/test-page", page)
        app.add_api_route("/v1/test-broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://instance.test") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/networth", 200),
        ("/v1/connections", 200),
        ("/v1/connections/not-a-uuid", 422),
        ("/v1/nothing-here", 404),
        ("/v1/test-broken", 500),
    ],
)
async def test_v1_answers_carry_the_headers_and_are_never_cached(
    extended: httpx.AsyncClient, token: str, path: str, status: int
) -> None:
    response = await extended.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status
    assert_security_headers(response)
    assert response.headers["content-security-policy"] == DEFAULT_CSP
    assert response.headers["cache-control"] == "no-store"


async def test_refusals_before_the_app_carry_the_headers(extended: httpx.AsyncClient) -> None:
    unauthorized = await extended.get("/v1/networth", headers={"Authorization": "Bearer th_x"})
    too_large = await extended.post("/v1/connections/manual", content=b"x" * 2_000_000)
    for response, status in ((unauthorized, 401), (too_large, 413)):
        assert response.status_code == status
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"


async def test_other_answers_carry_them_and_a_page_keeps_its_own_csp(extended: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/openapi.json", "/no-such-page"):
        response = await extended.get(path)
        assert_security_headers(response)
        assert response.headers["content-security-policy"] == DEFAULT_CSP
    page = await extended.get("/test-page")
    assert_security_headers(page)
    assert page.headers.get_list("content-security-policy") == [PAGE_CSP]
