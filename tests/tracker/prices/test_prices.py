"""The price service against the sandbox venues' public tickers, through the real egress worker: ordered
fallback, stablecoins priced by their market, conversion to EUR, unpriced assets, and a banned venue's
breaker held for the whole ban."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from tallyhold.db import create_engine, create_session_maker
from tallyhold.egress.client import EgressClient
from tallyhold.models import Price, VenueBreaker
from tallyhold.runtime import egress_config
from tallyhold.settings import Settings
from tallyhold.sync.engine import SyncEngine
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import FAST_EGRESS, instance_settings, wait_idle
from tests.fixtures.platform import Tenant


def priced_settings(tenant: Tenant, sandbox: Sandbox, **overrides: str) -> Settings:
    """The instance pricing at the sandbox venues, Binance first."""
    return instance_settings(
        tenant,
        EXCHANGE_API_OVERRIDES=sandbox.overrides_json(),
        PRICE_VENUES="binance,kraken",
        EGRESS_OPTIONS=FAST_EGRESS,
        **overrides,
    )


@pytest.fixture(scope="module")
def settings(tenant: Tenant, sandbox: Sandbox) -> Settings:
    return priced_settings(tenant, sandbox)


@pytest.fixture
def stablecoin_off_peg(sandbox: Sandbox) -> Iterator[None]:
    """USDT trades at 0.9990 USD on Kraken for this test (the sandbox default is 1)."""
    kraken = sandbox.control("kraken")
    before = kraken.view()["tickers"]["USDT/USD"]
    kraken.set_tickers({"USDT/USD": {**before, "last": "0.9990", "bid": "0.9989", "ask": "0.9991"}})
    yield
    kraken.set_tickers({"USDT/USD": before})


async def _manual(client: httpx.AsyncClient, asset: str, amount: str) -> None:
    response = await client.post("/v1/connections/manual", json={"label": asset, "asset": asset, "amount": amount})
    assert response.status_code == 201


async def test_market_prices_with_fallback_and_unpriced_assets(
    client: httpx.AsyncClient, stablecoin_off_peg: None, sandbox: Sandbox
) -> None:
    for asset, amount in [("BTC", "0.5"), ("USDT", "1000"), ("DOT", "10"), ("FOO", "3"), ("USD", "100")]:
        await _manual(client, asset, amount)
    binance, kraken = sandbox.control("binance"), sandbox.control("kraken")
    seen = {venue: sandbox.control(venue).last_seq() for venue in ("binance", "kraken")}
    assert (await client.post("/v1/sync")).status_code == 202
    await wait_idle(client, 60)
    assert binance.requests(seen["binance"]), "binance is asked first"
    assert kraken.requests(seen["kraken"]), "kraken is asked for what binance cannot price in USD"

    items = {i["asset"]: i for i in (await client.get("/v1/balances?group_by=asset")).json()["items"]}
    networth = (await client.get("/v1/networth")).json()
    per_row = {i["asset"]: i for i in (await client.get("/v1/balances")).json()["items"]}
    assert items["USDT"]["price"] == "0.999", "a stablecoin is worth what its market says"
    assert per_row["USDT"]["price_source"] == "kraken:USDT/USD"
    assert items["BTC"]["price"] == "65000"
    assert per_row["BTC"]["price_source"] == "kraken:BTC/USD"
    assert items["DOT"]["price"] == "6.5"
    assert items["FOO"]["price"] is None
    assert items["FOO"]["value"] is None
    assert networth["unpriced"] == [{"asset": "FOO", "amount": "3", "connection_id": per_row["FOO"]["connection_id"]}]
    assert networth["total"] == "33664"  # 32500 + 999 + 65 + 100; FOO is not counted as zero, it is listed
    assert not any(i["stale"] for i in per_row.values())
    price_at = datetime.fromisoformat(per_row["BTC"]["price_at"])
    assert abs(datetime.now(UTC) - price_at) < timedelta(minutes=5)

    history = (await client.get("/v1/networth/history")).json()
    assert history["points"][-1]["total"] == "33664"


async def test_quote_currency_conversion(tenant: Tenant, client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await _manual(client, "BTC", "1")
    await _manual(client, "USDC", "500")
    eur = priced_settings(tenant, sandbox, QUOTE_CURRENCY="EUR")
    engine = create_engine(eur, process="test")
    egress = EgressClient(egress_config(eur), mode="inprocess")
    try:
        sync = SyncEngine(eur, create_session_maker(engine), egress, {})
        assert await sync.refresh_prices() is None
        async with create_session_maker(engine)() as session:
            prices = {p.asset: p for p in await session.scalars(select(Price).where(Price.quote == "EUR"))}
    finally:
        await egress.aclose()
        await engine.dispose()
    assert prices["BTC"].price == Decimal("60185.19")
    assert prices["BTC"].source == "binance:BTC/EUR"
    # USDC has no EUR market: USDC → USDT → EUR, all on the preferred venue.
    assert prices["USDC"].source == "binance:USDC/USDT*binance:EUR/USDT"
    assert prices["USDC"].price.quantize(Decimal("0.0001")) == Decimal("0.9259")


async def test_a_banned_price_venue_gets_no_call_for_the_whole_ban(
    settings: Settings, client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await _manual(client, "ETH", "2")
    binance = sandbox.control("binance")
    with binance.fault("ban", path="/api/v3/exchangeInfo", retry_after=600, times=1):
        assert (await client.post("/v1/sync")).status_code == 202
        await wait_idle(client, 60)
    engine = create_engine(settings, process="test")
    try:
        async with create_session_maker(engine)() as session:
            breaker = await session.get(VenueBreaker, "binance")
    finally:
        await engine.dispose()
    assert breaker is not None
    assert breaker.reason == "banned"
    assert timedelta(seconds=590) < breaker.open_until - breaker.opened_at <= timedelta(seconds=600)
    status = (await client.get("/v1/sync/status")).json()
    assert [(v["venue"], v["reason"]) for v in status["venues"]] == [("binance", "banned")]
    eth = (await client.get("/v1/balances")).json()["items"][0]
    assert (eth["price"], eth["price_source"]) == ("3200", "kraken:ETH/USD"), "the next venue priced it"

    seq = binance.last_seq()
    assert (await client.post("/v1/sync")).status_code == 202
    await wait_idle(client, 60)
    assert binance.requests(seq) == [], "no call to a banned venue"
