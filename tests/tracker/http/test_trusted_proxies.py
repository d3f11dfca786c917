"""Behind a TLS front, the throttle counts the client the front names and HSTS follows the front's scheme; from
any other peer, forwarded headers are ignored (a client cannot choose its own throttle key). A real `tallyhold
serve` on loopback: 127.0.0.1 plays the front, 127.0.0.2 a client that connects directly."""

from __future__ import annotations

import httpx
import pytest

from tallyhold.api.middleware import HSTS
from tallyhold.settings import Settings
from tests.fixtures.platform import Tenant
from tests.fixtures.serve import served_settings

LIMIT = 3
WRONG = {"Authorization": "Bearer th_0123456789ab_" + "A" * 43}


@pytest.fixture(scope="module")
def settings(tenant: Tenant) -> Settings:
    return served_settings(
        tenant, TRUSTED_PROXIES="127.0.0.1/32", AUTH_THROTTLE_FAILURES=LIMIT, AUTH_THROTTLE_WINDOW_SECONDS=3600
    )


def _client(base: str, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=base, timeout=10, transport=transport)


async def _statuses(client: httpx.AsyncClient, forwarded_for: list[str]) -> list[int]:
    answers = [
        await client.get("/v1/networth", headers={**WRONG, "X-Forwarded-For": address}) for address in forwarded_for
    ]
    return [answer.status_code for answer in answers]


async def test_the_front_names_the_client_and_others_cannot(served: str, clean_tenant: None) -> None:
    async with _client(served, "127.0.0.1") as front:
        # Each client behind the front has its own budget.
        assert await _statuses(front, ["198.51.100.1"] * (LIMIT + 1)) == [401] * LIMIT + [429]
        assert await _statuses(front, ["198.51.100.2"]) == [401]
        # The front's own address was never charged.
        assert (await front.get("/v1/networth", headers=WRONG)).status_code == 401
    async with _client(served, "127.0.0.2") as direct:
        # A direct client changing X-Forwarded-For on every guess is still one address.
        spoofed = [f"203.0.113.{n}" for n in range(LIMIT + 1)]
        assert await _statuses(direct, spoofed) == [401] * LIMIT + [429]


async def test_hsts_follows_the_scheme_the_front_reports_and_only_the_front(served: str) -> None:
    https = {"X-Forwarded-Proto": "https"}
    async with _client(served, "127.0.0.1") as front:
        assert (await front.get("/healthz", headers=https)).headers["strict-transport-security"] == HSTS
        assert "strict-transport-security" not in (await front.get("/healthz")).headers
    async with _client(served, "127.0.0.2") as direct:
        assert "strict-transport-security" not in (await direct.get("/healthz", headers=https)).headers
