"""Unmodified ccxt (async) against the Bybit v5 sandbox venue: X-BAPI signature and receive window, the UTA
wallet, the FUND wallet, Earn positions, query-api permissions, tickers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client

WALLETS = {
    "unified": {"BTC": {"free": "0.5", "locked": "0.1"}, "USDT": "1250.5"},
    "fund": {"USDC": "10", "ETH": "0.3"},
    "earn_flexible": {"USDT": "50"},
    "earn_onchain": {"ETH": "1"},
}


@pytest.fixture(scope="module")
def bybit(sandbox):
    return sandbox.control("bybit")


@pytest.fixture(scope="module")
async def client(sandbox, bybit):
    credentials = generate("bybit")
    bybit.add_key(credentials.api_key, credentials.secret)
    exchange = ccxt_client(sandbox, "bybit", credentials.ccxt())
    exchange.test_key = credentials.api_key
    yield exchange
    await exchange.close()


@pytest.fixture(autouse=True)
def fresh_key(client, bybit):
    bybit.add_key(client.test_key, client.secret, balances=WALLETS)
    client.options["timeDifference"] = 0


async def test_unified_wallet(client):
    balance = await client.fetch_balance()
    assert balance["BTC"]["free"] == 0.5
    assert balance["BTC"]["used"] == 0.1
    assert balance["BTC"]["total"] == 0.6
    assert balance["total"]["USDT"] == 1250.5
    assert client.options["enableUnifiedAccount"] is True  # read from query-api's `uta`


async def test_funding_wallet_and_earn(client):
    assert (await client.fetch_balance({"type": "funding"}))["total"] == {"USDC": 10, "ETH": 0.3}
    flexible = await client.privateGetV5EarnPosition({"category": "FlexibleSaving"})
    assert [(p["coin"], p["amount"]) for p in flexible["result"]["list"]] == [("USDT", "50")]
    onchain = await client.privateGetV5EarnPosition({"category": "OnChain"})
    assert [(p["coin"], p["amount"]) for p in onchain["result"]["list"]] == [("ETH", "1")]
    unified = await client.privateGetV5AssetTransferQueryAccountCoinsBalance({"accountType": "UNIFIED"})
    assert {b["coin"]: b["walletBalance"] for b in unified["result"]["balance"]} == {"BTC": "0.6", "USDT": "1250.5"}


async def test_wrong_secret_and_unknown_key(sandbox, client):
    bad = ccxt_client(sandbox, "bybit", {"apiKey": client.test_key, "secret": "not-the-secret"})
    stranger = ccxt_client(sandbox, "bybit", generate("bybit").ccxt())
    try:
        with pytest.raises(ccxt.AuthenticationError, match="10004"):
            await bad.privateGetV5UserQueryApi()
        with pytest.raises(ccxt.AuthenticationError, match="10003"):
            await stranger.privateGetV5UserQueryApi()
    finally:
        await bad.close()
        await stranger.close()


async def test_timestamp_outside_receive_window(client):
    client.options["timeDifference"] = 10_000  # 10 s in the past, recv_window 5 s
    with pytest.raises(ccxt.InvalidNonce, match="10002"):
        await client.privateGetV5UserQueryApi()


async def test_read_only_key_information(client):
    info = (await client.privateGetV5UserQueryApi())["result"]
    assert info["readOnly"] == 1
    assert info["ips"] == ["*"]
    assert info["permissions"]["Wallet"] == []
    assert (info["uta"], info["deadlineDay"], info["expiredAt"]) == (1, -1, "")


@pytest.mark.parametrize(
    ("permission", "read_only", "wallet", "extra"),
    [
        ("trade", 0, [], None),
        ("withdraw", 0, ["Withdraw"], None),
        ("transfer", 0, ["AccountTransfer", "SubMemberTransfer"], None),
        ("unknown", 1, [], ("PayFi", ["PayFiTransfer"])),
    ],
)
async def test_write_permissions(client, bybit, permission, read_only, wallet, extra):
    bybit.set_permissions(client.test_key, ["read", permission])
    info = (await client.privateGetV5UserQueryApi())["result"]
    assert info["readOnly"] == read_only
    assert info["permissions"]["Wallet"] == wallet
    if extra is not None:
        assert info["permissions"][extra[0]] == extra[1]


async def test_ip_and_expiry_fields_and_enforcement(client, bybit):
    expires = datetime.now(UTC) + timedelta(days=30, hours=1)
    bybit.update_key(client.test_key, ip_allowlist=["127.0.0.1"], expires_at=expires)
    info = (await client.privateGetV5UserQueryApi())["result"]
    assert info["ips"] == ["127.0.0.1"]
    assert info["deadlineDay"] == 30
    assert info["expiredAt"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    bybit.update_key(client.test_key, ip_allowlist=["198.51.100.7"])
    with pytest.raises(ccxt.PermissionDenied, match="10010"):
        await client.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
    bybit.update_key(client.test_key, ip_allowlist=[], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ccxt.AuthenticationError, match="33004"):
        await client.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})


async def test_native_permission_fields(client, bybit):
    bybit.update_key(client.test_key, native_permissions={"readOnly": 0, "type": 2})
    info = (await client.privateGetV5UserQueryApi())["result"]
    assert (info["readOnly"], info["type"]) == (0, 2)


async def test_tickers(client, bybit):
    spot = await client.fetch_ticker("BTC/USDT")
    assert (spot["last"], spot["bid"], spot["ask"]) == (65000, 64999.99, 65000.01)
    tickers = await client.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    perpetuals = await client.fetch_tickers(params={"type": "swap"})
    assert "BTC/USDT:USDT" in perpetuals


async def test_a_borrowed_coin_reads_as_ccxt_parses_it(client, bybit):
    """UTA spot margin: walletBalance and equity go negative; ccxt's debt = borrowAmount + accruedInterest."""
    bybit.set_balances(client.test_key, {"unified": {"USDT": {"free": "5", "borrowed": "10", "interest": "0.1"}}})
    balance = await client.fetch_balance()
    assert balance["USDT"]["debt"] == 10.1
    assert balance["USDT"]["total"] == -5.1
    (coin,) = balance["info"]["result"]["list"][0]["coin"]
    assert (coin["equity"], coin["borrowAmount"], coin["accruedInterest"]) == ("-5.1", "10", "0.1")
