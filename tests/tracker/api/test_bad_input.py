"""Every bad input gets a 4xx with a stable code, never echoes the input, and stores nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fixtures.instance import assert_error, count_rows

CANARY = "cnry_5f1d2b9a0c7e4d3f8a6b1c2d3e4f5a6b"
VALID = {"label": "Cash", "asset": "USD", "amount": "10"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"label": "Cash", "asset": "USD", "amount": NaN}', 400, "invalid_json"),
        (b'{"label": "Cash", "asset": "USD", "amount": Infinity}', 400, "invalid_json"),
        (b'{"label": "Cash", "asset": "USD", "amount": -Infinity}', 400, "invalid_json"),
        (b"\xff\xfe\x00garbage", 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "payload_too_large"),
        (b"", 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
        (b'"just a string"', 422, "invalid_request"),
    ],
)
async def test_malformed_bodies(client: httpx.AsyncClient, body: bytes, status: int, code: str) -> None:
    response = await client.post("/v1/connections/manual", content=body, headers={"content-type": "application/json"})
    assert_error(response, status, code)
    assert await count_rows(client) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": "-1"},
        {"amount": "NaN"},
        {"amount": "Infinity"},
        {"amount": "1e400"},
        {"amount": "123456789012345678901"},
        {"amount": "0.0000000000000000001"},
        {"amount": "ten"},
        {"amount": True},
        {"amount": [1]},
        {"amount": {"v": 1}},
        {"price": "-0.01"},
        {"price": "NaN"},
        {"asset": "BTC; DROP TABLE connections"},
        {"asset": "€UR"},
        {"asset": "<script>"},
        {"asset": ""},
        {"asset": "A" * 25},
        {"asset": 42},
        {"label": ""},
        {"label": "   "},
        {"label": "x" * 101},
        {"label": "bell\u0007"},
        {"label": "rtl\u202eoverride"},
        {"label": None},
        {"unexpected": CANARY},
        {CANARY: "value"},
    ],
)
async def test_invalid_fields_are_422_without_echo(client: httpx.AsyncClient, changes: dict[str, object]) -> None:
    body = {**VALID, **changes}
    response = await client.post("/v1/connections/manual", json=body)
    error = assert_error(response, 422, "invalid_request")
    assert error["fields"], "the client learns which field was wrong"
    for field in error["fields"]:
        assert set(field) == {"loc", "type", "msg"}
    text = response.text
    assert "input" not in error["fields"][0]
    for value in body.values():
        if isinstance(value, str) and len(value) > 3 and value not in {"Cash", "USD"}:
            assert value not in text
    assert CANARY not in text
    assert await count_rows(client) == 0


async def test_missing_field_does_not_echo_siblings(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections/manual", json={"label": CANARY, "amount": "1"})
    error = assert_error(response, 422, "invalid_request")
    assert error["fields"] == [{"loc": ["body", "asset"], "type": "missing", "msg": "Field required"}]
    assert CANARY not in response.text


async def test_wrong_content_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/connections/manual", content=json.dumps(VALID), headers={"content-type": "text/plain"}
    )
    assert response.status_code in {415, 422}
    assert await count_rows(client) == 0


async def test_oversized_body_by_declared_length(client: httpx.AsyncClient) -> None:
    big = {**VALID, "label": "x" * 70_000}
    response = await client.post("/v1/connections/manual", json=big)
    assert_error(response, 413, "payload_too_large")
    assert await count_rows(client) == 0


async def test_oversized_body_streamed_without_length(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    response = await client.post(
        "/v1/connections/manual", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/connections/00000000-0000-0000-0000-000000000000", 404, "not_found"),
        ("PATCH", "/v1/connections/00000000-0000-0000-0000-000000000000", 404, "not_found"),
        ("DELETE", "/v1/connections/00000000-0000-0000-0000-000000000000", 404, "not_found"),
        ("GET", "/v1/connections/not-a-uuid", 422, "invalid_request"),
        ("GET", "/v1/nothing-here", 404, "not_found"),
        ("PUT", "/v1/networth", 405, "method_not_allowed"),
        ("GET", "/v1/balances?group_by=planet", 422, "invalid_request"),
        ("GET", "/v1/networth/history?step=0", 422, "invalid_step"),
        ("GET", "/v1/networth/history?step=fast", 422, "invalid_step"),
        ("GET", "/v1/networth/history?step=999999999w", 422, "invalid_step"),
        ("GET", "/v1/networth/history?end=0001-01-02T00:00:00Z", 422, "invalid_range"),
        ("GET", "/v1/networth/history?start=0001-01-01T00:00:00Z", 422, "invalid_range"),
        ("GET", "/v1/networth/history?end=9999-12-31T00:00:00Z", 422, "invalid_range"),
        ("GET", "/v1/networth/history?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", 422, "invalid_range"),
        ("GET", "/v1/networth/history?start=2026-01-01T00:00:00", 422, "invalid_range"),
        ("GET", "/v1/networth/history?start=yesterday", 422, "invalid_request"),
    ],
)
async def test_unknown_ids_and_bad_queries(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await client.request(method, path, json={"label": "x"} if method == "PATCH" else None)
    assert_error(response, status, code)


async def test_patch_validation_stores_nothing(client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/connections/manual", json=VALID)).json()
    path = f"/v1/connections/{created['id']}"
    for body in ({"label": ""}, {"amount": "-5"}, {"label": "ok", "extra": 1}, {"label": None}):
        response = await client.patch(path, json=body)
        assert response.status_code == 422, body
    after = (await client.get(path)).json()
    assert after["label"] == "Cash"
    assert after["manual"]["amount"] == "10"


MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


async def test_secret_material_needs_a_token_first(anonymous: httpx.AsyncClient) -> None:
    """The guard runs only for authenticated callers: an anonymous request is a 401, whatever it carries."""
    for path in ("/v1/connections/manual", "/v1/connections/wallet"):
        response = await anonymous.post(path, json={"label": MNEMONIC, "chain": "bitcoin", "address": "0x" + "a" * 64})
        assert_error(response, 401, "unauthorized")


async def test_manual_label_with_secret_material_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections/manual", json={**VALID, "label": MNEMONIC})
    assert_error(response, 422, "secret_material")
    assert MNEMONIC not in response.text
    assert await count_rows(client) == 0


async def test_unusual_http_methods_do_not_become_metric_labels(anonymous: httpx.AsyncClient) -> None:
    from prometheus_client import generate_latest

    await anonymous.request("X0ATTACK", "/v1/networth")
    exposition = generate_latest().decode()
    assert "X0ATTACK" not in exposition
    assert 'method="OTHER"' in exposition


@pytest.mark.parametrize("consent", ["yes", "1", "on", 1, "true"])
async def test_consent_flag_takes_only_a_json_boolean(client: httpx.AsyncClient, consent: object) -> None:
    body = {
        "exchange": "bitstamp",
        "label": "x",
        "api_key": "k" * 16,
        "api_secret": "s" * 32,
        "acknowledge_unverifiable": consent,
    }
    response = await client.post("/v1/connections/exchange", json=body)
    assert_error(response, 422, "invalid_request")
    assert await count_rows(client) == 0
