"""Unmodified ccxt (async) against the Binance sandbox venue: authentication, every wallet, the key's
permission endpoint, tickers, and the signature/time/IP/expiry checks Binance makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.state import ControlError
from tests.fixtures.sandbox import ccxt_client, new_key

WALLETS = {
    "spot": {"BTC": {"free": "0.5", "locked": "0.1"}, "USDT": "1250.75"},
    "funding": {"USDT": "50", "ETH": "0.25"},
    "earn_flexible": {"USDT": "300"},
    "earn_locked": {"ETH": "2"},
    "staking": {"SOL": "10"},
    "margin": {"BTC": "0.01"},
    "usdm": {"USDT": "400", "BNB": "1.5"},
    "coinm": {"BTC": "0.2"},
}


@pytest.fixture(scope="module")
def binance(sandbox):
    return sandbox.control("binance")


@pytest.fixture(scope="module")
async def client(sandbox, binance):
    """One client for the module (ccxt's close() costs 0.25 s and load_markets runs once); `fresh_key`
    gives every test the same read-only key state again."""
    api_key, secret = new_key(), new_key("secret")
    binance.add_key(api_key, secret)
    exchange = ccxt_client(sandbox, "binance", {"apiKey": api_key, "secret": secret})
    exchange.test_key = api_key
    yield exchange
    await exchange.close()


@pytest.fixture(autouse=True)
def fresh_key(client, binance):
    binance.add_key(client.test_key, client.secret, balances=WALLETS)
    client.options["timeDifference"] = 0
    client.options["hasAlreadyAuthenticatedSuccessfully"] = False


async def test_spot_balance_with_default_ccxt_options(client):
    balance = await client.fetch_balance()
    assert balance["BTC"] == {"free": 0.5, "used": 0.1, "total": 0.6}
    assert balance["total"]["USDT"] == 1250.75
    # Binance lists a flexible Simple Earn position in the spot account as LD<asset>.
    assert balance["total"]["LDUSDT"] == 300


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "funding"}, {"USDT": 50, "ETH": 0.25}),
        ({"type": "savings"}, {"USDT": 300}),
        ({"type": "margin"}, {"BTC": 0.01}),
        ({"type": "swap", "subType": "linear"}, {"USDT": 400, "BNB": 1.5}),
        ({"type": "swap", "subType": "inverse"}, {"BTC": 0.2}),
    ],
)
async def test_every_wallet_through_fetch_balance(client, params, expected):
    balance = await client.fetch_balance(params)
    assert {a: v for a, v in balance["total"].items() if v} == expected


async def test_earn_and_staking_through_implicit_methods(client):
    flexible = await client.sapiGetSimpleEarnFlexiblePosition()
    assert [(r["asset"], r["totalAmount"]) for r in flexible["rows"]] == [("USDT", "300.00000000")]
    locked = await client.sapiGetSimpleEarnLockedPosition()
    assert [(r["asset"], r["amount"]) for r in locked["rows"]] == [("ETH", "2.00000000")]
    staking = await client.sapiGetStakingPosition({"product": "STAKING"})
    assert [(r["asset"], r["amount"]) for r in staking] == [("SOL", "10.00000000")]
    summary = await client.sapiGetSimpleEarnAccount()
    assert float(summary["totalLockedInUSDT"]) > 0
    wallets = {w["walletName"]: w["balance"] for w in await client.sapiGetAssetWalletBalance()}
    assert set(wallets) >= {"Spot", "Funding", "Cross Margin", "USDⓈ-M Futures", "COIN-M Futures", "Earn"}
    assert float(wallets["COIN-M Futures"]) == pytest.approx(0.2)
    assets = {r["asset"]: r["free"] for r in await client.sapiV3PostAssetGetUserAsset()}
    assert assets["LDUSDT"] == "300.00000000"


async def test_wrong_secret_is_an_authentication_error(sandbox, client):
    bad = ccxt_client(sandbox, "binance", {"apiKey": client.test_key, "secret": "not-the-secret"})
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-1022"):
            await bad.fetch_balance()
    finally:
        await bad.close()


async def test_unknown_key_is_an_authentication_error(sandbox):
    stranger = ccxt_client(sandbox, "binance", {"apiKey": new_key(), "secret": "whatever"})
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await stranger.privateGetAccount()
    finally:
        await stranger.close()


async def test_stale_timestamp_is_refused_as_invalid_nonce(client):
    client.options["timeDifference"] = 20_000  # ccxt signs a timestamp 20 s in the past, recvWindow is 10 s
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await client.privateGetAccount()


async def test_read_only_key_permissions(client):
    restrictions = await client.sapiGetAccountApiRestrictions()
    assert restrictions["enableReading"] is True
    assert restrictions["ipRestrict"] is False
    flags = {k: v for k, v in restrictions.items() if k.startswith(("enable", "permits"))}
    assert {k for k, v in flags.items() if v} == {"enableReading", "enableFixReadOnly"}
    assert "tradingAuthorityExpirationTime" not in restrictions


@pytest.mark.parametrize(
    ("permission", "flags"),
    [
        ("trade", {"enableSpotAndMarginTrading", "enableFixApiTrade"}),
        ("margin", {"enableMargin"}),
        ("futures", {"enableFutures", "enablePortfolioMarginTrading"}),
        ("options", {"enableVanillaOptions"}),
        ("withdraw", {"enableWithdrawals"}),
        ("transfer", {"enableInternalTransfer", "permitsUniversalTransfer"}),
        ("unknown", {"enableCopyTradingLeadTrader"}),
    ],
)
async def test_write_permissions_show_as_binance_flags(client, binance, permission, flags):
    binance.set_permissions(client.test_key, ["read", permission])
    restrictions = await client.sapiGetAccountApiRestrictions()
    on = {k for k, v in restrictions.items() if v is True and k not in {"enableReading", "enableFixReadOnly"}}
    assert on == flags


async def test_native_permission_fields_ip_and_expiry(client, binance):
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    binance.update_key(
        client.test_key,
        native_permissions={"enableBrandNewThing": True},
        ip_allowlist=["127.0.0.1"],
        expires_at=expires,
    )
    restrictions = await client.sapiGetAccountApiRestrictions()
    assert restrictions["enableBrandNewThing"] is True
    assert restrictions["ipRestrict"] is True
    assert restrictions["tradingAuthorityExpirationTime"] == int(expires.timestamp() * 1000)
    ip = await client.sapiGetAccountApiRestrictionsIpRestriction()
    assert ip["ipList"] == ["127.0.0.1"]


async def refused_with_2015(sandbox: Sandbox, client: Any) -> None:
    """Binance answers -2015 to a bad key, a wrong IP, an expired key or a missing permission alike. ccxt reads
    it as AuthenticationError on a fresh client, but as DDoSProtection once that client has authenticated
    (ccxt's `hasAlreadyAuthenticatedSuccessfully`: Binance also sends -2015 during temporary bans)."""
    fresh = ccxt_client(sandbox, "binance", {"apiKey": client.test_key, "secret": client.secret})
    try:
        with pytest.raises(ccxt.AuthenticationError, match="-2015"):
            await fresh.privateGetAccount()
    finally:
        await fresh.close()
    await client.load_markets()
    client.options["hasAlreadyAuthenticatedSuccessfully"] = True
    with pytest.raises(ccxt.DDoSProtection, match="-2015"):
        await client.privateGetAccount()


async def test_ip_allowlist_is_enforced(sandbox, client, binance):
    binance.update_key(client.test_key, ip_allowlist=["10.20.30.0/24"])
    await refused_with_2015(sandbox, client)
    binance.update_key(client.test_key, ip_allowlist=["127.0.0.0/8"])
    assert (await client.privateGetAccount())["accountType"] == "SPOT"


async def test_expired_key_is_refused(sandbox, client, binance):
    binance.update_key(client.test_key, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await refused_with_2015(sandbox, client)


async def test_key_without_read_permission_cannot_read(sandbox, client, binance):
    binance.set_permissions(client.test_key, [])
    await refused_with_2015(sandbox, client)
    # The key can still describe itself: that is how a checker learns reading is off.
    assert (await client.sapiGetAccountApiRestrictions())["enableReading"] is False


async def test_tickers_follow_the_control_api(client, binance):
    assert (await client.fetch_ticker("BTC/USDT"))["last"] == 65000
    original = binance.view()["tickers"]["BTC/USDT"]
    binance.set_tickers({"BTC/USDT": {"last": "70123.45", "bid": "70123.40", "ask": "70123.50"}})
    try:
        ticker = await client.fetch_ticker("BTC/USDT")
        assert (ticker["last"], ticker["bid"], ticker["ask"]) == (70123.45, 70123.40, 70123.50)
        tickers = await client.fetch_tickers(["BTC/USDT", "ETH/USDT"])
        assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
        assert (await client.publicGetTickerPrice({"symbol": "BTCUSDT"}))["price"] == "70123.45"
    finally:
        binance.set_tickers({"BTC/USDT": original})


async def test_request_log_names_endpoints_and_never_secrets(client, binance):
    since = binance.last_seq()
    await client.fetch_balance({"type": "funding"})
    entries = [e for e in binance.requests(since) if e["key_hint"] == client.test_key[-4:]]
    paths = [(e["method"], e["path"]) for e in entries]
    assert paths == [("POST", "/sapi/v1/asset/get-funding-asset")]  # markets were loaded before
    everything = [(e["method"], e["path"]) for e in binance.requests() if e["key_hint"] == client.test_key[-4:]]
    assert ("GET", "/sapi/v1/capital/config/getall") in everything  # by load_markets, as ccxt has keys
    text = repr(binance.requests())
    assert client.secret not in text
    assert all(e["status"] == 200 for e in entries)


async def test_a_cross_margin_debt_reads_as_ccxt_parses_it(client, binance):
    """Borrowed USDT (principal + interest) spent on BTC: ccxt's debt = borrowed + interest, netAsset negative."""
    binance.set_balances(
        client.test_key, {"margin": {"BTC": "0.2", "USDT": {"free": "50", "borrowed": "1000", "interest": "0.5"}}}
    )
    balance = await client.fetch_balance({"type": "margin"})
    assert balance["USDT"]["debt"] == 1000.5
    assert balance["BTC"]["debt"] == 0
    rows = {row["asset"]: row for row in balance["info"]["userAssets"]}
    assert rows["USDT"]["netAsset"] == "-950.50000000"
    assert rows["BTC"]["netAsset"] == "0.20000000"
    assert balance["info"]["totalLiabilityOfBtc"] != "0.00000000"


def test_borrowing_is_refused_where_binance_cannot_report_it(client, binance):
    with pytest.raises(ControlError, match="unknown holding fields"):
        binance.set_balances(client.test_key, {"spot": {"USDT": {"free": "1", "borrowed": "5"}}})
