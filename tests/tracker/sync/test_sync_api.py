"""POST /v1/sync and GET /v1/sync/status with no source to call: the run, the net-worth point, the status."""

from __future__ import annotations

import httpx

from tests.fixtures.instance import wait_idle


async def test_sync_now_records_a_networth_point(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections/manual", json={"label": "Cash", "asset": "USD", "amount": "1250.5"})
    assert response.status_code == 201
    response = await client.post("/v1/sync")
    assert response.status_code == 202
    assert response.json() == {"status": "started"}
    status = await wait_idle(client)
    assert status["scheduler"] == "off"
    assert status["interval_seconds"] == 300
    assert status["sources"] == [], "manual holdings do not sync"
    assert status["last_run"]["finished_at"] is not None
    history = (await client.get("/v1/networth/history")).json()
    assert [p["total"] for p in history["points"]] == ["1250.5"]

    # A rerun in the same window updates its point instead of adding one.
    await client.patch(f"/v1/connections/{await _only_id(client)}", json={"amount": "99"})
    assert (await client.post("/v1/sync")).status_code == 202
    await wait_idle(client)
    history = (await client.get("/v1/networth/history")).json()
    assert [p["total"] for p in history["points"]] == ["99"]


async def _only_id(client: httpx.AsyncClient) -> str:
    items = (await client.get("/v1/connections")).json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])
