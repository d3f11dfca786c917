"""`tallyhold_api_errors_total{code}` counts every error body the API sends, by its stable code, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tallyhold.api.error_handlers import install_error_handlers
from tallyhold.errors import Unprocessable
from tests.fixtures.instance import assert_error

NAME = "tallyhold_api_errors_total"


def errors(code: str) -> float:
    return REGISTRY.get_sample_value(NAME, {"code": code}) or 0.0


def all_errors() -> float:
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == NAME.removesuffix("_total")
        for sample in metric.samples
        if sample.name == NAME
    )


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("status", "code", "method", "path", "request_args"),
    [
        (401, "unauthorized", "GET", "/v1/connections", {"headers": {"Authorization": "Bearer wrong"}}),
        (404, "not_found", "GET", "/v1/no-such-route", {}),
        (405, "method_not_allowed", "DELETE", "/v1/networth", {}),
        (400, "invalid_json", "POST", "/v1/connections/manual", {"content": b"{", "headers": JSON}),
        (422, "invalid_request", "POST", "/v1/connections/manual", {"json": {}}),
        (422, "invalid_step", "GET", "/v1/networth/history", {"params": {"step": "soon"}}),
        # Refused by the body-size middleware, before any handler runs.
        (413, "payload_too_large", "POST", "/v1/connections/manual", {"content": b"[" * 200_000, "headers": JSON}),
    ],
)
async def test_each_error_body_is_counted_once_by_its_code(
    client: httpx.AsyncClient, status: int, code: str, method: str, path: str, request_args: dict[str, Any]
) -> None:
    before, total_before = errors(code), all_errors()
    response = await client.request(method, path, **request_args)
    assert_error(response, status, code)
    assert errors(code) == before + 1
    assert all_errors() == total_before + 1, "counted once, under its own code only"


async def test_successful_answers_are_not_counted(client: httpx.AsyncClient) -> None:
    before = all_errors()
    assert (await client.get("/v1/networth")).status_code == 200
    assert (
        await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "1"})
    ).is_success
    assert all_errors() == before


class _Boom(Exception):
    pass


@pytest_asyncio.fixture
async def bare() -> AsyncIterator[httpx.AsyncClient]:
    """Our error handlers on an app of two routes: one failing unexpectedly, one with a code that is not ours."""
    app = FastAPI()
    install_error_handlers(app)

    async def unexpected() -> None:
        raise _Boom("text that must never be a label")

    async def odd_code() -> None:
        raise Unprocessable(code="Not A Code (from elsewhere)")

    app.add_api_route("/boom", unexpected)
    app.add_api_route("/odd", odd_code)
    # The server-error middleware re-raises after answering; the client should see the answer, not the raise.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://instance.test") as client:
        yield client


@pytest.mark.parametrize(("path", "status", "label"), [("/boom", 500, "internal_error"), ("/odd", 422, "other")])
async def test_unexpected_errors_and_unknown_codes(bare: httpx.AsyncClient, path: str, status: int, label: str) -> None:
    before, total_before = errors(label), all_errors()
    response = await bare.get(path)
    assert response.status_code == status
    assert errors(label) == before + 1
    assert all_errors() == total_before + 1
    labels = {s.labels["code"] for m in REGISTRY.collect() if m.name == "tallyhold_api_errors" for s in m.samples}
    assert "Not A Code (from elsewhere)" not in labels, "only snake_case codes become label values"
