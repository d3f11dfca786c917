"""Manual connections end to end, and the list/get/patch/delete routes."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.instance import assert_error, count_rows

DECIMAL_CASES = [
    "0",
    "0.000000000000000001",
    "1.123456789012345678",
    "999999999999999.999999999999999999",
    "1000000000000000",
    "123456789012345.123456789012345678",
]


async def test_create_get_list(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/connections/manual", json={"label": "  Gold bars ", "asset": "xau", "amount": "3.5", "price": "2000"}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["kind"] == "manual"
    assert created["label"] == "Gold bars"
    assert created["status"] == "active"
    assert created["manual"] == {"asset": "XAU", "amount": "3.5", "price": "2000", "quote": "USD"}
    assert created["created_at"].endswith("Z") or created["created_at"].endswith("+00:00")
    for secretish in ("key_hint", "api_key", "api_secret", "passphrase"):
        assert created.get(secretish) in (None, [], {})

    fetched = (await client.get(f"/v1/connections/{created['id']}")).json()
    assert fetched == created
    listed = (await client.get("/v1/connections")).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]


async def test_patch_label_amount_price(client: httpx.AsyncClient) -> None:
    created = (
        await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "EUR", "amount": "1"})
    ).json()
    path = f"/v1/connections/{created['id']}"
    updated = (await client.patch(path, json={"label": "Wallet cash", "amount": "250.50", "price": "1.08"})).json()
    assert updated["label"] == "Wallet cash"
    assert updated["manual"] == {"asset": "EUR", "amount": "250.5", "price": "1.08", "quote": "USD"}
    cleared = (await client.patch(path, json={"price": None})).json()
    assert cleared["manual"]["price"] is None


async def test_delete_removes_connection_and_balances(client: httpx.AsyncClient) -> None:
    created = (
        await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "7"})
    ).json()
    response = await client.delete(f"/v1/connections/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get(f"/v1/connections/{created['id']}"), 404, "not_found")
    assert (await client.get("/v1/balances")).json()["items"] == []
    assert_error(await client.delete(f"/v1/connections/{created['id']}"), 404, "not_found")
    assert await count_rows(client) == 0


@pytest.mark.parametrize("amount", DECIMAL_CASES)
async def test_decimal_round_trip_is_exact(client: httpx.AsyncClient, amount: str) -> None:
    """18 decimal places and magnitudes up to 10^15 survive API → DB → API exactly."""
    created = (
        await client.post(
            "/v1/connections/manual", json={"label": "Exact", "asset": "ETH", "amount": amount, "price": amount}
        )
    ).json()
    fetched = (await client.get(f"/v1/connections/{created['id']}")).json()
    assert fetched["manual"]["amount"] == amount
    assert fetched["manual"]["price"] == amount
    balances = (await client.get("/v1/balances")).json()["items"]
    assert [b["amount"] for b in balances] == [amount]


async def test_json_numbers_are_parsed_as_decimals_not_floats(client: httpx.AsyncClient) -> None:
    """A JSON number with 18 decimals would lose digits as a float; it is read as a Decimal instead."""
    body = b'{"label": "n", "asset": "ETH", "amount": 123456789012345.123456789012345678}'
    created = await client.post("/v1/connections/manual", content=body, headers={"content-type": "application/json"})
    assert created.status_code == 201, created.text
    assert created.json()["manual"]["amount"] == "123456789012345.123456789012345678"
