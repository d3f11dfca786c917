"""Unmodified ccxt (async) against the Coinbase sandbox venue with CDP keys: the JWT ccxt signs (ES256 with an EC
key, EdDSA with an Ed25519 key) verified with the key's public half, accounts, vaults, portfolios and their
breakdowns, key_permissions, products and tickers."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client

WALLETS = {
    "spot": {"BTC": {"free": "0.5", "locked": "0.1"}, "USD": "1250.5", "ETH": "1"},
    "vault": {"ETH": "2"},
    "portfolio": {"SOL": "5"},
}


@pytest.fixture(scope="module")
def coinbase(sandbox):
    return sandbox.control("coinbase")


@pytest.fixture(scope="module")
async def client(sandbox, coinbase):
    credentials = generate("coinbase")
    coinbase.add_key(credentials.api_key, credentials.secret)
    exchange = ccxt_client(sandbox, "coinbase", credentials.ccxt())
    exchange.test_key = credentials.api_key
    yield exchange
    await exchange.close()


@pytest.fixture(autouse=True)
def fresh_key(client, coinbase):
    coinbase.add_key(client.test_key, client.secret, balances=WALLETS)


async def test_fetch_balance_with_an_es256_key(client):
    balance = await client.fetch_balance()  # ccxt's default: /v2/accounts, types wallet and fiat
    assert balance["total"] == {"BTC": 0.6, "USD": 1250.5, "ETH": 1}  # the vault is not counted by ccxt
    v3 = await client.fetch_balance({"v3": True})
    assert v3["BTC"] == {"free": 0.5, "used": 0.1, "total": 0.6}


async def test_accounts_vaults_and_portfolios(client):
    accounts = (await client.v3PrivateGetBrokerageAccounts({"limit": 250}))["accounts"]
    assert {(a["currency"], a["type"], a["available_balance"]["value"]) for a in accounts} == {
        ("BTC", "ACCOUNT_TYPE_CRYPTO", "0.5"),
        ("USD", "ACCOUNT_TYPE_FIAT", "1250.5"),
        ("ETH", "ACCOUNT_TYPE_CRYPTO", "1"),
        ("ETH", "ACCOUNT_TYPE_VAULT", "2"),
    }
    portfolios = (await client.v3PrivateGetBrokeragePortfolios())["portfolios"]
    assert [(p["name"], p["type"]) for p in portfolios] == [("Default", "DEFAULT"), ("Long-term", "CONSUMER")]
    other = portfolios[1]["uuid"]
    breakdown = (await client.v3PrivateGetBrokeragePortfoliosPortfolioUuid({"portfolio_uuid": other}))["breakdown"]
    assert [(p["asset"], p["total_balance_crypto"]) for p in breakdown["spot_positions"]] == [("SOL", "5")]
    assert breakdown["portfolio_balances"]["total_balance"] == {"value": "750.00", "currency": "USD"}
    scoped = await client.v3PrivateGetBrokerageAccounts({"retail_portfolio_id": other})
    assert [(a["currency"], a["available_balance"]["value"]) for a in scoped["accounts"]] == [("SOL", "5")]


async def test_accounts_paginate(client, coinbase):
    coinbase.set_balances(client.test_key, {"spot": {f"C{i:02d}": "1" for i in range(7)}})
    first = await client.v3PrivateGetBrokerageAccounts({"limit": 5})
    assert (first["has_next"], first["size"]) == (True, 5)
    second = await client.v3PrivateGetBrokerageAccounts({"limit": 5, "cursor": first["cursor"]})
    assert (second["has_next"], second["size"], second["cursor"]) == (False, 2, "")


async def test_ed25519_key(sandbox, coinbase):
    seed_and_public = base64.b64encode(_ed25519_secret()).decode()
    api_key = f"{secrets.token_hex(4)}-ed25519"
    coinbase.add_key(api_key, seed_and_public, balances={"spot": {"BTC": "3"}})
    exchange = ccxt_client(sandbox, "coinbase", {"apiKey": api_key, "secret": seed_and_public})
    try:
        assert (await exchange.fetch_balance())["total"] == {"BTC": 3}
    finally:
        await exchange.close()


def _ed25519_secret() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    raw = serialization.Encoding.Raw
    seed = private.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return seed + private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)


async def test_wrong_private_key_and_unknown_key(sandbox, client):
    for credentials in (
        {"apiKey": client.test_key, "secret": generate("coinbase").secret},
        generate("coinbase").ccxt(),
    ):
        other = ccxt_client(sandbox, "coinbase", credentials)
        try:
            with pytest.raises(ccxt.AuthenticationError, match="401"):
                await other.v3PrivateGetBrokerageKeyPermissions()
        finally:
            await other.close()


async def test_jwt_lifetime_and_uri_are_checked(sandbox, client):
    url = sandbox.url("coinbase") + "/api/v3/brokerage/key_permissions"
    cases = {
        "fresh": (client.create_auth_token(int(time.time()), "GET", url), 200),
        "expired": (client.create_auth_token(int(time.time()) - 300, "GET", url), 401),
        "other path": (
            client.create_auth_token(int(time.time()), "GET", url.replace("key_permissions", "accounts")),
            401,
        ),
    }
    async with aiohttp.ClientSession() as session:
        for name, (token, status) in cases.items():
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == status, name


async def test_read_only_key_permissions(client):
    permissions = await client.v3PrivateGetBrokerageKeyPermissions()
    assert (permissions["can_view"], permissions["can_trade"], permissions["can_transfer"]) == (True, False, False)
    assert permissions["portfolio_type"] == "DEFAULT"


@pytest.mark.parametrize(
    ("permission", "field"),
    [("trade", "can_trade"), ("withdraw", "can_transfer"), ("transfer", "can_transfer"), ("unknown", "can_stake")],
)
async def test_write_permissions(client, coinbase, permission, field):
    coinbase.set_permissions(client.test_key, ["read", permission])
    permissions = await client.v3PrivateGetBrokerageKeyPermissions()
    assert {k for k, v in permissions.items() if v is True} == {"can_view", field}


async def test_view_scope_ip_and_expiry_are_enforced(client, coinbase):
    coinbase.set_permissions(client.test_key, ["trade"])
    with pytest.raises(ccxt.PermissionDenied):
        await client.v3PrivateGetBrokerageAccounts()
    coinbase.update_key(client.test_key, permissions=["read"], ip_allowlist=["203.0.113.0/24"])
    with pytest.raises(ccxt.AuthenticationError):
        await client.v3PrivateGetBrokerageAccounts()
    coinbase.update_key(client.test_key, ip_allowlist=[], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(ccxt.AuthenticationError):
        await client.v3PrivateGetBrokerageAccounts()


async def test_products_and_tickers(client, coinbase):
    ticker = await client.fetch_ticker("BTC/USD")
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (65000, 64999.99, 65000.01)
    tickers = await client.fetch_tickers(["BTC/USD", "ETH/USD"])
    assert {s: t["last"] for s, t in tickers.items()} == {"BTC/USD": 65000, "ETH/USD": 3200}
    rates = (await client.v2PublicGetExchangeRates({"currency": "USD"}))["data"]["rates"]
    assert rates["BTC"] == "0.0000153846153846"
