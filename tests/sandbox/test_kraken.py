"""Unmodified ccxt (async) against the Kraken sandbox venue: API-Sign verification and nonces, the balance maps
with X/Z ids and .S/.M/.F/.B suffixes, the ledger, Earn allocations, GetApiKeyInfo, tickers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client

WALLETS = {
    "spot": {"BTC": {"free": "0.5", "locked": "0.1"}, "USD": "1250.5", "SOL": "3", "DOGE": "1000"},
    "staked": {"DOT": "50", "ETH": "2"},
    "rewards": {"USDC": "10"},
    "flexible": {"BTC": "0.01"},
    "bonded": {"SOL": "5"},
}


@pytest.fixture(scope="module")
def kraken(sandbox):
    return sandbox.control("kraken")


@pytest.fixture(scope="module")
async def client(sandbox, kraken):
    credentials = generate("kraken")
    kraken.add_key(credentials.api_key, credentials.secret)
    exchange = ccxt_client(sandbox, "kraken", credentials.ccxt())
    exchange.test_key = credentials.api_key
    yield exchange
    await exchange.close()


@pytest.fixture(autouse=True)
def fresh_key(client, kraken):
    kraken.add_key(client.test_key, client.secret, balances=WALLETS)


async def test_balance_ex_through_fetch_balance(client):
    balance = await client.fetch_balance()
    assert balance["BTC"] == {"free": 0.5, "used": 0.1, "total": 0.6}
    assert balance["total"]["USD"] == 1250.5
    assert balance["total"]["DOGE"] == 1000  # XXDG
    # Earn balances keep Kraken's suffixes; ccxt maps the part before the dot.
    suffixed = {code: amount for code, amount in balance["total"].items() if "." in code}
    assert suffixed == {"DOT.S": 50, "ETH2.S": 2, "USDC.M": 10, "BTC.F": 0.01, "SOL.B": 5}


async def test_balance_uses_kraken_ids(client):
    result = (await client.privatePostBalance())["result"]
    assert result["XXBT"] == "0.6000000000"
    assert result["ZUSD"] == "1250.5000000000"
    assert result["XXDG"] == "1000.0000000000"
    assert {"DOT.S", "ETH2.S", "USDC.M", "XBT.F", "SOL.B", "SOL"} <= set(result)


async def test_ledger_and_earn_allocations(client):
    entries = await client.fetch_ledger()
    assert {(e["currency"], e["amount"]) for e in entries} >= {("BTC", 0.6), ("USD", 1250.5), ("DOT.S", 50)}
    raw = (await client.privatePostLedgers({"asset": "XXBT"}))["result"]
    assert raw["count"] == 1
    (entry,) = raw["ledger"].values()
    assert (entry["asset"], entry["type"], entry["balance"]) == ("XXBT", "deposit", "0.6000000000")
    allocations = (await client.privatePostEarnAllocations())["result"]["items"]
    assert {(i["native_asset"], i["amount_allocated"]["total"]["native"]) for i in allocations} == {
        ("DOT", "50.0000000000"),
        ("ETH", "2.0000000000"),
        ("USDC", "10.0000000000"),
        ("BTC", "0.0100000000"),
        ("SOL", "5.0000000000"),
    }


async def test_planted_ledger(client, kraken):
    kraken.update_key(
        client.test_key,
        ledger=[
            {"asset": "ETH", "amount": "3", "type": "deposit", "time": 1700000000},
            {"asset": "ETH", "amount": "-1", "fee": "0.01", "type": "withdrawal", "time": 1700000100},
        ],
    )
    ledger = (await client.privatePostLedgers())["result"]["ledger"]
    assert [(e["type"], e["amount"], e["balance"]) for e in ledger.values()] == [
        ("withdrawal", "-1.0000000000", "1.9900000000"),
        ("deposit", "3.0000000000", "3.0000000000"),
    ]


async def test_wrong_secret_is_kraken_invalid_signature(sandbox, client):
    """Kraken answers a wrong secret with EAPI:Invalid signature, which ccxt 4.5.90 does not map: it raises a
    plain ExchangeError. An unknown key is EAPI:Invalid key, an AuthenticationError."""
    bad = ccxt_client(sandbox, "kraken", {"apiKey": client.test_key, "secret": generate("kraken").secret})
    stranger = ccxt_client(sandbox, "kraken", generate("kraken").ccxt())
    try:
        with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature") as raised:
            await bad.privatePostBalance()
        assert type(raised.value) is ccxt.ExchangeError
        with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
            await stranger.privatePostBalance()
    finally:
        await bad.close()
        await stranger.close()


async def test_reused_nonce_is_invalid_nonce(client):
    await client.privatePostBalance()
    client.options["lastNonce"] = 0
    client.options["timeDifference"] = 60_000  # the next nonce is lower than the last one Kraken saw
    try:
        with pytest.raises(ccxt.InvalidNonce):
            await client.privatePostBalance()
    finally:
        client.options["timeDifference"] = 0


async def test_api_key_info_read_only(client):
    info = (await client.privatePostGetApiKeyInfo())["result"]
    assert info["permissions"] == ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger"]
    assert (info["validUntil"], info["ipAllowlist"], info["nonceWindow"]) == ("0", [], 0)


@pytest.mark.parametrize(
    ("permission", "strings"),
    [
        ("trade", {"modify-trades", "cancel-trades"}),
        ("withdraw", {"withdraw-funds"}),
        ("transfer", {"deposit-funds", "earn-funds"}),
        ("unknown", {"manage-custody"}),
    ],
)
async def test_write_permissions_as_kraken_strings(client, kraken, permission, strings):
    kraken.set_permissions(client.test_key, ["read", permission])
    info = (await client.privatePostGetApiKeyInfo())["result"]
    assert set(info["permissions"]) - {"query-funds", "query-open-trades", "query-closed-trades", "query-ledger"} == (
        strings
    )


async def test_native_permission_list_ip_and_expiry(client, kraken):
    valid_until = datetime(2030, 6, 1, tzinfo=UTC)
    kraken.update_key(
        client.test_key,
        native_permissions={"permissions": ["query-funds", "export-data"]},
        ip_allowlist=["127.0.0.1/32"],
        expires_at=valid_until,
    )
    info = (await client.privatePostGetApiKeyInfo())["result"]
    assert info["permissions"] == ["query-funds", "export-data"]
    assert info["ipAllowlist"] == ["127.0.0.1/32"]
    assert info["validUntil"] == str(int(valid_until.timestamp()))
    # Gating follows the native list: no query-ledger, no ledger.
    with pytest.raises(ccxt.PermissionDenied):
        await client.privatePostLedgers()


async def test_endpoints_gated_by_permissions(client, kraken):
    """A read-only key cannot see deposit or withdrawal status (so history is read from the ledger instead)."""
    for method in ("privatePostDepositStatus", "privatePostWithdrawStatus", "privatePostWithdrawMethods"):
        with pytest.raises(ccxt.PermissionDenied):
            await getattr(client, method)()
    kraken.set_permissions(client.test_key, ["read", "withdraw"])
    assert (await client.privatePostWithdrawStatus())["result"] == []


async def test_ip_and_expiry_are_enforced(client, kraken):
    kraken.update_key(client.test_key, ip_allowlist=["192.0.2.0/24"])
    with pytest.raises(ccxt.PermissionDenied):
        await client.privatePostBalance()
    kraken.update_key(client.test_key, ip_allowlist=[], expires_at=datetime.now(UTC) - timedelta(minutes=1))
    with pytest.raises(ccxt.AuthenticationError, match="EAPI:Invalid key"):
        await client.privatePostBalance()


async def test_tickers(client, kraken):
    ticker = await client.fetch_ticker("BTC/USD")
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (65000, 64999.99, 65000.01)
    tickers = await client.fetch_tickers(["ETH/USD", "DOGE/USD"])
    assert set(tickers) == {"ETH/USD", "DOGE/USD"}
    raw = await client.publicGetTicker({"pair": "XXBTZUSD,SOLUSD"})
    assert set(raw["result"]) == {"XXBTZUSD", "SOLUSD"}
    # Kraken's "EQuery:Unknown asset pair" is not in ccxt's table (it knows "EQuery:Invalid asset pair").
    with pytest.raises(ccxt.ExchangeError, match="EQuery:Unknown asset pair"):
        await client.publicGetTicker({"pair": "NOPEUSD"})
