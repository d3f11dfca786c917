from __future__ import annotations

from typing import Any

import httpx


async def count_rows(client: httpx.AsyncClient) -> int:
    """Connections visible through the API: the observable 'nothing was stored' check."""
    response = await client.get("/v1/connections")
    assert response.status_code == 200
    return len(response.json()["items"])


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error
