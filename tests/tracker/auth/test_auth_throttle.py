"""Failed authentication is throttled per client address (429 with Retry-After) and valid tokens never are.

The throttle's arithmetic runs on a clock the test moves; the burst runs against a real `tallyhold serve` over
loopback, as the outside review did (1,000 wrong secrets, all 401 before this)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tallyhold.auth.throttle import FailureThrottle, client_key
from tallyhold.settings import Settings
from tests.fixtures.instance import issue_token
from tests.fixtures.platform import Tenant
from tests.fixtures.serve import served_settings

BURST_LIMIT = 20
GUESSES = 200  # bounded: ten times the limit, sent 20 at a time


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_up_to_the_limit_passes_then_failures_wait_for_one_to_be_forgiven() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=5, window_seconds=60, clock=clock)
    assert [throttle.record_failure("a") for _ in range(5)] == [None] * 5
    assert throttle.record_failure("a") == pytest.approx(12.0)  # one failure is forgiven every 60 / 5 s
    assert throttle.record_failure("b") is None  # another address has its own budget
    clock.now += 11.5
    assert throttle.retry_after("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert throttle.record_failure("a") is None
    assert throttle.record_failure("a") == pytest.approx(12.0)


def test_refused_failures_are_not_counted_so_retry_after_is_exact() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=2, window_seconds=10, clock=clock)
    throttle.record_failure("a")
    throttle.record_failure("a")
    for _ in range(100):
        assert throttle.record_failure("a") == pytest.approx(5.0)
    clock.now += 5.0
    assert throttle.record_failure("a") is None


def test_the_table_is_bounded_and_forgets_the_oldest_failing_address_first() -> None:
    clock = Clock()
    throttle = FailureThrottle(limit=1, window_seconds=60, max_clients=3, clock=clock)
    for client in ("a", "b", "c", "d"):
        throttle.record_failure(client)
    assert len(throttle) == 3
    assert throttle.retry_after("a") is None  # forgotten
    assert throttle.retry_after("d") is not None


def test_client_keys_group_ipv6_by_64_and_unwrap_ipv4_mapped_addresses() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key(None) == client_key("not an address") == "unknown"


@pytest.fixture(scope="module")
def settings(tenant: Tenant) -> Settings:
    return served_settings(
        tenant,
        AUTH_THROTTLE_FAILURES=BURST_LIMIT,
        AUTH_THROTTLE_WINDOW_SECONDS=3600,  # nothing is forgiven while the test runs
    )


async def _guess(client: httpx.AsyncClient, token: str) -> httpx.Response:
    forged = token[:16] + ("A" if token[16] != "A" else "B") + token[17:]  # right id, wrong secret
    return await client.get("/v1/connections", headers={"Authorization": f"Bearer {forged}"})


async def test_a_burst_of_wrong_secrets_gets_429_while_a_valid_token_from_the_same_address_works(
    served: str, settings: Settings, clean_tenant: None
) -> None:
    token = await issue_token(settings, "throttle test")
    valid = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        statuses: list[int] = []
        for _ in range(GUESSES // 20):
            answers = await asyncio.gather(*(_guess(client, token) for _ in range(20)))
            statuses += [answer.status_code for answer in answers]
            # Between the guesses, the customer's own requests from the same address go through.
            assert (await client.get("/v1/connections", headers=valid)).status_code == 200
        assert statuses.count(401) == BURST_LIMIT
        assert statuses.count(429) == GUESSES - BURST_LIMIT

        refused = await _guess(client, token)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "too_many_auth_failures"
        assert refused.json()["error"]["retry_after_seconds"] == int(refused.headers["retry-after"])
        # A request with no credential is no guess: plain 401, never counted.
        assert (await client.get("/v1/connections")).status_code == 401

    # Another client address has its own budget (the whole 127/8 is loopback on Linux).
    other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=served, timeout=10, transport=other) as client:
        assert (await _guess(client, token)).status_code == 401


async def test_the_openapi_document_declares_429_on_every_v1_operation(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    operations = [op for path, ops in paths.items() if path.startswith("/v1") for op in ops.values()]
    assert operations
    for operation in operations:
        assert "Retry-After" in operation["responses"]["429"]["headers"]
