"""Liabilities on the real stack: a sandbox Binance account with a cross-margin debt is connected and synced
(egress worker, OpenBao, Postgres, the sandbox venue's wire answer), then the API shows the debt, subtracts it
from net worth exactly, records it in the window's snapshot and history point, and forgets it once repaid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.db import create_engine, create_session_maker
from tallyhold.models import ConnectionSnapshot, Liability
from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import instance_settings, sync_now
from tests.fixtures.sandbox import sandbox_key

DEBT = {"free": "100", "borrowed": "1000", "interest": "0.125"}  # owes 900.125 USDT net of the 100 held
WALLETS: dict[str, dict[str, Any]] = {"spot": {"ETH": "2"}, "margin": {"BTC": "0.5", "USDT": DEBT}}


@pytest.fixture(scope="module")
def settings(tenant: Any, vault_tenant: Any, sandbox: Sandbox) -> Settings:
    return instance_settings(tenant, **vault_tenant.settings(), EXCHANGE_API_OVERRIDES=dict(sandbox.urls))


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings, process="test")
    async with create_session_maker(engine)() as session:
        yield session
    await engine.dispose()


def money(text: str | None) -> Decimal:
    assert text is not None
    return Decimal(text)


async def test_a_margin_debt_is_subtracted_and_forgotten_once_repaid(
    client: httpx.AsyncClient, sandbox: Sandbox, db: AsyncSession
) -> None:
    body = sandbox_key(sandbox, "binance", ("read",), balances=WALLETS)
    created = await client.post("/v1/connections/exchange", json=body)
    assert created.status_code == 201, created.text
    connection_id = created.json()["id"]
    await sync_now(client)

    balances = (await client.get("/v1/balances")).json()
    assert {(i["asset"], i["location"]): i["amount"] for i in balances["items"]} == {
        ("ETH", "spot"): "2",
        ("BTC", "margin"): "0.5",
    }
    (liability,) = balances["liabilities"]
    assert (liability["asset"], liability["location"], liability["amount"]) == ("USDT", "margin", "900.125")
    assert liability["connection_id"] == connection_id
    assert money(liability["value"]) == Decimal("900.125") * money(liability["price"])
    by_asset = (await client.get("/v1/balances", params={"group_by": "asset"})).json()
    assert [(i["asset"], i["amount"]) for i in by_asset["liabilities"]] == [("USDT", "900.125")]

    networth = (await client.get("/v1/networth")).json()
    gross = sum((money(i["value"]) for i in balances["items"]), Decimal(0))
    assert money(networth["gross_assets"]) == gross
    assert money(networth["liabilities_total"]) == money(liability["value"])
    assert money(networth["total"]) == gross - money(liability["value"])
    assert networth["liabilities"] == balances["liabilities"]
    (share,) = networth["by_connection"]
    assert money(share["value"]) == money(networth["total"])
    assert [a["asset"] for a in networth["by_asset"]] == ["BTC", "ETH"]  # holdings only: no USDT line

    # The window's snapshot keeps the debt; the history point is net of it.
    snapshot = (await db.scalars(select(ConnectionSnapshot))).one()
    assert snapshot.liabilities == [{"asset": "USDT", "location": "margin", "amount": "900.125"}]
    points = (await client.get("/v1/networth/history")).json()["points"]
    assert money(points[-1]["total"]) == money(networth["total"])

    # Repaid: the next sync removes the liability everywhere.
    sandbox.control("binance").set_balances(body["api_key"], {**WALLETS, "margin": {"BTC": "0.5"}})
    await sync_now(client)
    balances = (await client.get("/v1/balances")).json()
    assert balances["liabilities"] == []
    networth = (await client.get("/v1/networth")).json()
    assert (networth["liabilities_total"], networth["liabilities"]) == ("0", [])
    assert networth["total"] == networth["gross_assets"]
    assert (await db.scalars(select(Liability))).all() == []
    db.expire_all()
    latest = (await db.scalars(select(ConnectionSnapshot).order_by(ConnectionSnapshot.window_start.desc()))).first()
    assert latest is not None
    assert latest.liabilities == []
    points = (await client.get("/v1/networth/history")).json()["points"]
    assert money(points[-1]["total"]) == money(networth["total"])


async def test_openapi_describes_liabilities(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert {"gross_assets", "liabilities_total", "liabilities", "total"} <= set(schemas["NetWorth"]["properties"])
    assert "liabilities" in schemas["Balances"]["properties"]
    assert schemas["NetWorth"]["properties"]["liabilities_total"]["type"] == "string"


async def test_deleting_the_connection_deletes_its_liabilities(
    client: httpx.AsyncClient, sandbox: Sandbox, db: AsyncSession
) -> None:
    body = sandbox_key(sandbox, "binance", ("read",), balances=WALLETS)
    connection_id = (await client.post("/v1/connections/exchange", json=body)).json()["id"]
    await sync_now(client)
    assert len((await db.scalars(select(Liability))).all()) == 1
    assert (await client.delete(f"/v1/connections/{connection_id}")).status_code == 204
    assert (await client.get("/v1/balances")).json()["liabilities"] == []
    assert (await db.scalars(select(Liability))).all() == []


async def test_an_unpriced_debt_is_listed_never_counted_as_zero(
    client: httpx.AsyncClient, sandbox: Sandbox, db: AsyncSession
) -> None:
    wallets = {"spot": {"ETH": "2"}, "margin": {"BTC": "0.5", "NOPRICEX": {"free": "0", "borrowed": "7"}}}
    body = sandbox_key(sandbox, "binance", ("read",), balances=wallets)
    connection_id = (await client.post("/v1/connections/exchange", json=body)).json()["id"]
    await sync_now(client)
    networth = (await client.get("/v1/networth")).json()
    (liability,) = networth["liabilities"]
    assert (liability["asset"], liability["amount"], liability["value"]) == ("NOPRICEX", "7", None)
    assert networth["unpriced_liabilities"] == [{"asset": "NOPRICEX", "amount": "7", "connection_id": connection_id}]
    assert networth["liabilities_total"] == "0"
    assert networth["unpriced"] == []
    assert (await client.delete(f"/v1/connections/{connection_id}")).status_code == 204
