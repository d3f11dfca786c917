"""Unmodified ccxt (async) against the OKX v5 sandbox venue: OK-ACCESS signature, passphrase and timestamp, the
trading, funding, savings and staking wallets, account/config permissions, tickers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client

WALLETS = {
    "trading": {"BTC": {"free": "0.5", "locked": "0.1"}, "USDT": "1250.5"},
    "funding": {"USDC": "10", "ETH": "0.3"},
    "savings": {"USDT": "50"},
    "staking": {"ETH": "1"},
}


@pytest.fixture(scope="module")
def okx(sandbox):
    return sandbox.control("okx")


@pytest.fixture(scope="module")
async def client(sandbox, okx):
    credentials = generate("okx")
    okx.add_key(credentials.api_key, credentials.secret, passphrase=credentials.passphrase)
    exchange = ccxt_client(sandbox, "okx", credentials.ccxt())
    exchange.test_key = credentials.api_key
    yield exchange
    await exchange.close()


@pytest.fixture(autouse=True)
def fresh_key(client, okx):
    okx.add_key(client.test_key, client.secret, passphrase=client.password, balances=WALLETS)
    client.options["timeDifference"] = 0


async def test_trading_and_funding_wallets(client):
    trading = await client.fetch_balance()
    assert trading["BTC"] == {"free": 0.5, "used": 0.1, "total": 0.6}
    assert trading["total"]["USDT"] == 1250.5
    funding = await client.fetch_balance({"type": "funding"})
    assert funding["total"] == {"USDC": 10, "ETH": 0.3}


async def test_savings_staking_and_valuation(client):
    savings = (await client.privateGetFinanceSavingsBalance())["data"]
    assert [(s["ccy"], s["amt"]) for s in savings] == [("USDT", "50")]
    staking = (await client.privateGetFinanceStakingDefiOrdersActive())["data"]
    assert [(o["ccy"], o["investData"][0]["amt"]) for o in staking] == [("ETH", "1")]
    valuation = (await client.privateGetAssetAssetValuation({"ccy": "USDT"}))["data"][0]
    assert valuation["details"]["earn"] == "3250.00000000"
    assert valuation["details"]["funding"] == "970.00000000"


async def test_wrong_secret_passphrase_and_key(sandbox, client):
    cases = [
        ({"apiKey": client.test_key, "secret": "not-the-secret", "password": client.password}, "50113"),
        ({"apiKey": client.test_key, "secret": client.secret, "password": "not-the-passphrase"}, "50105"),
        (generate("okx").ccxt(), "50111"),
    ]
    for credentials, code in cases:
        other = ccxt_client(sandbox, "okx", credentials)
        try:
            with pytest.raises(ccxt.AuthenticationError, match=code):
                await other.privateGetAccountConfig()
        finally:
            await other.close()


async def test_timestamp_too_far_off(client):
    client.options["timeDifference"] = 45_000
    with pytest.raises(ccxt.InvalidNonce, match="50102"):
        await client.privateGetAccountConfig()


async def test_read_only_config(client):
    config = (await client.privateGetAccountConfig())["data"][0]
    assert (config["perm"], config["ip"], config["label"]) == ("read_only", "", "tallyhold-sandbox")


@pytest.mark.parametrize(
    ("permissions", "perm"),
    [
        (["read", "trade"], "read_only,trade"),
        (["read", "withdraw"], "read_only,withdraw"),
        (["read", "transfer"], "read_only,trade"),
        (["read", "trade", "withdraw"], "read_only,trade,withdraw"),
        (["read", "unknown"], "read_only,block_trade"),
    ],
)
async def test_write_permissions(client, okx, permissions, perm):
    okx.set_permissions(client.test_key, permissions)
    assert (await client.privateGetAccountConfig())["data"][0]["perm"] == perm


async def test_ip_allowlist_native_fields_and_enforcement(client, okx):
    okx.update_key(client.test_key, ip_allowlist=["127.0.0.1", "10.0.0.0/8"], native_permissions={"opAuth": "1"})
    config = (await client.privateGetAccountConfig())["data"][0]
    assert (config["ip"], config["opAuth"]) == ("127.0.0.1,10.0.0.0/8", "1")
    okx.update_key(client.test_key, ip_allowlist=["203.0.113.9"])
    with pytest.raises(ccxt.PermissionDenied, match="50110"):
        await client.fetch_balance()
    okx.update_key(client.test_key, ip_allowlist=[], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ccxt.AuthenticationError):
        await client.fetch_balance()


async def test_tickers(client):
    ticker = await client.fetch_ticker("BTC/USDT")
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (65000, 64999.99, 65000.01)
    tickers = await client.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    assert (await client.fetch_ticker("BTC/USDT:USDT"))["last"] == 65000


async def test_a_borrowed_currency_has_negative_equity_and_a_liability(client, okx):
    """Multi-currency margin: cashBal and eq go negative by the debt; `liab` (positive) and `interest` say it."""
    okx.set_balances(client.test_key, {"trading": {"USDT": {"free": "20", "borrowed": "100", "interest": "0.25"}}})
    balance = await client.fetch_balance()
    assert balance["total"]["USDT"] == -80.25  # ccxt's total is `eq`
    (row,) = balance["info"]["data"][0]["details"]
    assert (row["eq"], row["cashBal"], row["liab"], row["interest"]) == ("-80.25", "-80.25", "100.25", "0.25")
