"""Balances, net worth and history computed from stored state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest_asyncio
from sqlalchemy import insert

from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import NetWorthSnapshot, Price
from tallyhold.settings import Settings


async def _manual(client: httpx.AsyncClient, label: str, asset: str, amount: str, price: str | None = None) -> str:
    body = {"label": label, "asset": asset, "amount": amount} | ({"price": price} if price else {})
    response = await client.post("/v1/connections/manual", json=body)
    assert response.status_code == 201
    return str(response.json()["id"])


Store = Callable[..., Awaitable[None]]


@pytest_asyncio.fixture
async def store(settings: Settings, clean_tenant: None) -> AsyncIterator[Store]:
    engine = create_engine(settings, process="test")
    maker = create_session_maker(engine)

    async def run(*rows: object) -> None:
        async with transaction(maker) as session:
            for row in rows:
                session.add(row)

    yield run
    await engine.dispose()


async def test_networth_totals_manual_holdings(client: httpx.AsyncClient) -> None:
    cash = await _manual(client, "Cash", "USD", "2500.00")
    gold = await _manual(client, "Gold", "XAU", "2", "2000.50")
    networth = (await client.get("/v1/networth")).json()
    assert networth["quote"] == "USD"
    assert networth["total"] == "6501"
    assert networth["stale_sources"] == []
    assert networth["unpriced"] == []
    assert networth["by_asset"] == [
        {"asset": "XAU", "amount": "2", "price": "2000.5", "value": "4001", "percent": "61.54"},
        {"asset": "USD", "amount": "2500", "price": "1", "value": "2500", "percent": "38.46"},
    ]
    assert [(c["connection_id"], c["value"]) for c in networth["by_connection"]] == [(gold, "4001"), (cash, "2500")]
    assert networth["by_kind"] == [{"kind": "manual", "value": "6501", "percent": "100"}]


async def test_unpriced_holdings_are_reported_not_zeroed(client: httpx.AsyncClient) -> None:
    await _manual(client, "Cash", "USD", "10")
    mystery = await _manual(client, "Art", "PAINTING", "1")
    networth = (await client.get("/v1/networth")).json()
    assert networth["total"] == "10"
    assert networth["unpriced"] == [{"asset": "PAINTING", "amount": "1", "connection_id": mystery}]
    art = next(a for a in networth["by_asset"] if a["asset"] == "PAINTING")
    assert art["value"] is None
    assert art["percent"] is None


async def test_market_prices_value_holdings(client: httpx.AsyncClient, store: Store) -> None:
    await _manual(client, "Cold BTC", "BTC", "0.5")
    await _manual(client, "More BTC", "BTC", "0.25")
    now = datetime.now(UTC)
    await store(Price(asset="BTC", quote="USD", price=Decimal("64000.12"), source="binance:BTC/USDT", observed_at=now))
    balances = (await client.get("/v1/balances?group_by=asset")).json()
    assert balances["items"] == [
        {
            "asset": "BTC",
            "amount": "0.75",
            "price": "64000.12",
            "value": "48000.09",
            "connection_id": None,
            "location": None,
            "stale": False,
            "unconfirmed": None,
            "price_source": None,
            "price_at": None,
        }
    ]
    per_row = (await client.get("/v1/balances")).json()["items"]
    assert [row["value"] for row in per_row] == ["32000.06", "16000.03"]
    assert per_row[0]["price_source"] == "binance:BTC/USDT"
    assert (await client.get("/v1/networth")).json()["total"] == "48000.09"


async def test_old_prices_are_flagged_stale(client: httpx.AsyncClient, store: Store) -> None:
    await _manual(client, "ETH", "ETH", "1")
    old = datetime.now(UTC) - timedelta(days=2)
    await store(Price(asset="ETH", quote="USD", price=Decimal("3000"), source="kraken:ETH/USD", observed_at=old))
    item = (await client.get("/v1/balances")).json()["items"][0]
    assert item["stale"] is True
    assert item["value"] == "3000"


async def test_history_buckets_and_point_cap(client: httpx.AsyncClient, settings: Settings) -> None:
    engine = create_engine(settings, process="test")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        {"taken_at": start + timedelta(minutes=5 * i), "quote": "USD", "total": Decimal(i), "resolution": "raw"}
        for i in range(5000)
    ]
    async with transaction(create_session_maker(engine)) as session:
        await session.execute(insert(NetWorthSnapshot), rows)
    await engine.dispose()

    end = start + timedelta(minutes=5 * 4999)
    hourly = (
        await client.get(
            "/v1/networth/history", params={"start": start.isoformat(), "end": end.isoformat(), "step": "1h"}
        )
    ).json()
    assert hourly["step_seconds"] == 3600
    assert len(hourly["points"]) == 417  # ceil(5000 / 12)
    assert hourly["points"][0] == {"t": "2025-01-01T00:00:00Z", "total": "11"}  # last sample of the first hour
    fine = (
        await client.get(
            "/v1/networth/history", params={"start": start.isoformat(), "end": end.isoformat(), "step": "60"}
        )
    ).json()
    assert len(fine["points"]) <= 1000
    assert fine["step_seconds"] >= 1500


async def test_egress_ips(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/security/egress-ips")).json() == {"ips": [], "published": False}
