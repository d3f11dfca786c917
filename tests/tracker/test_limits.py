"""Caps on what a customer can add (manual connections, custom tokens: 409 `limit_reached`, nothing stored, also
under concurrent creates) and the paginated connection list (opaque cursor; a client that ignores pagination
still gets everything in one answer)."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from tallyhold.settings import Settings
from tests.fixtures.instance import assert_error, count_rows, instance_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.vault import VaultTenant

CAP = 4


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant) -> Settings:
    return instance_settings(tenant, **vault_tenant.settings(), MAX_MANUAL_CONNECTIONS=CAP, MAX_CUSTOM_TOKENS=0)


def manual(label: str) -> dict[str, str]:
    return {"label": label, "asset": "USD", "amount": "1"}


async def create(client: httpx.AsyncClient, count: int) -> list[str]:
    ids = []
    for i in range(count):
        response = await client.post("/v1/connections/manual", json=manual(f"Holding {i}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def test_manual_connections_are_capped(client: httpx.AsyncClient) -> None:
    ids = await create(client, CAP)
    error = assert_error(await client.post("/v1/connections/manual", json=manual("One too many")), 409, "limit_reached")
    assert error["resource"] == "manual_connections"
    assert error["limit"] == CAP
    assert await count_rows(client) == CAP
    assert (await client.delete(f"/v1/connections/{ids[0]}")).status_code == 204
    assert (await client.post("/v1/connections/manual", json=manual("Room again"))).status_code == 201


async def test_concurrent_creates_never_pass_the_cap(client: httpx.AsyncClient) -> None:
    await create(client, CAP - 1)
    answers = await asyncio.gather(*(client.post("/v1/connections/manual", json=manual(f"Race {i}")) for i in range(6)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409, 409]
    assert await count_rows(client) == CAP


async def test_custom_tokens_are_capped_before_the_chain_is_asked(client: httpx.AsyncClient) -> None:
    """A cap of 0 switches custom tokens off; no RPC is configured here, so reaching the chain would be a 422."""
    body = {"chain": "ethereum", "contract": "0x" + "ab" * 20}
    error = assert_error(await client.post("/v1/tokens", json=body), 409, "limit_reached")
    assert error["resource"] == "custom_tokens"
    tokens = (await client.get("/v1/tokens", params={"chain": "ethereum"})).json()
    assert all(t["source"] == "curated" for t in tokens["items"])


async def test_pages_follow_the_cursor_to_the_end(client: httpx.AsyncClient) -> None:
    ids = await create(client, CAP)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/connections", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 2


async def test_a_client_that_ignores_pagination_gets_everything(client: httpx.AsyncClient) -> None:
    ids = await create(client, CAP)
    page = (await client.get("/v1/connections")).json()
    assert [item["id"] for item in page["items"]] == ids
    assert page["next_cursor"] is None


async def test_a_cursor_survives_the_deletion_of_its_item(client: httpx.AsyncClient) -> None:
    ids = await create(client, CAP)
    first = (await client.get("/v1/connections", params={"limit": 2})).json()
    assert (await client.delete(f"/v1/connections/{ids[1]}")).status_code == 204
    rest = (await client.get("/v1/connections", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [item["id"] for item in rest["items"]] == ids[2:]


@pytest.mark.parametrize(
    "cursor",
    [
        "cnry-not-base64-%%",
        base64.urlsafe_b64encode(b"cnry plain text").decode(),
        base64.urlsafe_b64encode(b'{"t": "yesterday", "id": "cnry"}').decode(),
        base64.urlsafe_b64encode(
            b'{"t": "2026-01-01T00:00:00", "id": "00000000-0000-0000-0000-000000000000"}'
        ).decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
    ],
)
async def test_a_forged_cursor_is_refused_without_echo(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get("/v1/connections", params={"cursor": cursor})
    assert_error(response, 400, "invalid_cursor")
    assert cursor not in response.text
    assert "cnry" not in response.text


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "many"])
async def test_page_size_is_bounded(client: httpx.AsyncClient, limit: str) -> None:
    assert_error(await client.get("/v1/connections", params={"limit": limit}), 422, "invalid_request")
