"""Every fault kind on every venue, as unmodified ccxt sees it. Each fault is scoped to the test's own key
(or to a path only that test calls), so the shared servers never leak a fault into another test."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client

# What ccxt raises for each fault on a private read (fetch_balance). Bans and rate limits are NetworkErrors
# (transient) everywhere; server errors are OperationFailed (transient) subclasses.
EXPECTED: dict[str, dict[str, type[Exception]]] = {
    "binance": {
        "rate_limit": ccxt.DDoSProtection,  # binance.handle_errors raises DDoSProtection for 418 and 429
        "ban": ccxt.DDoSProtection,
        "server_error": ccxt.OperationFailed,  # {"code": -1001}
        "unavailable": ccxt.ExchangeNotAvailable,
        "html": ccxt.ExchangeNotAvailable,
        "hang": ccxt.RequestTimeout,
    },
    "bybit": {
        "rate_limit": ccxt.RateLimitExceeded,  # retCode 10006
        "ban": ccxt.RateLimitExceeded,  # 403 "access too frequent" (ccxt's httpExceptions)
        "server_error": ccxt.ExchangeNotAvailable,
        "unavailable": ccxt.ExchangeNotAvailable,
        "html": ccxt.ExchangeNotAvailable,
        "hang": ccxt.RequestTimeout,
    },
    "coinbase": {
        "rate_limit": ccxt.RateLimitExceeded,  # 429 {"error": "rate_limit_exceeded"}
        "ban": ccxt.RateLimitExceeded,  # 429 Cloudflare 1015 page
        "server_error": ccxt.ExchangeNotAvailable,
        "unavailable": ccxt.ExchangeNotAvailable,
        "html": ccxt.ExchangeNotAvailable,
        "hang": ccxt.RequestTimeout,
    },
    "kraken": {
        "rate_limit": ccxt.DDoSProtection,  # {"error": ["EAPI:Rate limit exceeded"]}
        "ban": ccxt.DDoSProtection,  # EGeneral:Temporary lockout
        "server_error": ccxt.ExchangeNotAvailable,  # EGeneral:Internal error
        "unavailable": ccxt.ExchangeNotAvailable,  # EService:Unavailable
        "html": ccxt.ExchangeNotAvailable,
        "hang": ccxt.RequestTimeout,
    },
    "okx": {
        "rate_limit": ccxt.RateLimitExceeded,  # 429 {"code": "50011"}
        "ban": ccxt.DDoSProtection,  # a bare 418: OKX documents no ban answer
        "server_error": ccxt.ExchangeNotAvailable,  # {"code": "50026"}
        "unavailable": ccxt.OnMaintenance,  # {"code": "50001"}
        "html": ccxt.ExchangeNotAvailable,
        "hang": ccxt.RequestTimeout,
    },
}
VENUES = sorted(EXPECTED)
# A private read and the path it ends on (faults are scoped to it), per venue.
BALANCE_PATH = {
    "binance": "/api/v3/account",
    "bybit": "/v5/account/wallet-balance",
    "coinbase": "/v2/accounts",  # ccxt's default fetch_balance
    "kraken": "/0/private/BalanceEx",
    "okx": "/api/v5/account/balance",
}
# A private implicit call that returns the venue's raw balance document, per venue.
RAW_BALANCE: dict[str, tuple[str, dict[str, Any]]] = {
    "binance": ("privateGetAccount", {}),
    "bybit": ("privateGetV5AccountWalletBalance", {"accountType": "UNIFIED"}),
    "coinbase": ("v3PrivateGetBrokerageAccounts", {}),
    "kraken": ("privatePostBalance", {}),
    "okx": ("privateGetAccountBalance", {}),
}


# Where the planted amount sits in that raw document, and the field name to plant.
def _binance_first_free(document: Any) -> Any:
    return document["balances"][0]["free"]


def _bybit_first_coin(document: Any) -> Any:
    return document["result"]["list"][0]["coin"][0]["walletBalance"]


def _coinbase_first_available(document: Any) -> Any:
    return document["accounts"][0]["available_balance"]["value"]


def _kraken_btc(document: Any) -> Any:
    return document["result"]["XXBT"]


def _okx_first_equity(document: Any) -> Any:
    return document["data"][0]["details"][0]["eq"]


PLANT: dict[str, tuple[Callable[[Any], Any], str]] = {
    "binance": (_binance_first_free, "free"),
    "bybit": (_bybit_first_coin, "walletBalance"),
    "coinbase": (_coinbase_first_available, "value"),
    "kraken": (_kraken_btc, "XXBT"),  # Kraken's balance map is keyed by asset id
    "okx": (_okx_first_equity, "eq"),
}


@pytest.fixture(scope="module", params=VENUES)
async def venue_client(request, sandbox):
    venue = request.param
    credentials = generate(venue)
    sandbox.control(venue).add_key(
        credentials.api_key, credentials.secret, passphrase=credentials.passphrase, balances=_balances(venue)
    )
    exchange = ccxt_client(sandbox, venue, credentials.ccxt(), timeout=1500)
    await exchange.load_markets()
    exchange.test_key = credentials.api_key
    yield venue, exchange
    await exchange.close()


def _balances(venue: str) -> dict[str, dict[str, str]]:
    wallet = {"bybit": "unified", "okx": "trading"}.get(venue, "spot")
    return {wallet: {"BTC": "1.5"}}


@pytest.mark.parametrize("kind", ["rate_limit", "ban", "server_error", "unavailable", "html", "hang"])
async def test_fault_is_seen_as_the_right_ccxt_exception(sandbox, venue_client, kind):
    venue, exchange = venue_client
    spec = {"retry_after": 7} if kind in {"rate_limit", "ban"} else {"seconds": 30} if kind == "hang" else {}
    control = sandbox.control(venue)
    fault = control.fault(kind, path=BALANCE_PATH[venue], api_key=exchange.test_key, times=1, **spec)
    with fault, pytest.raises(EXPECTED[venue][kind]) as raised:
        await exchange.fetch_balance()
    assert type(raised.value) is EXPECTED[venue][kind]
    if kind in {"rate_limit", "ban"}:
        assert exchange.last_response_headers["Retry-After"] == "7"
    # `times=1`: the next call is answered normally again.
    assert (await exchange.fetch_balance())["total"]["BTC"] == 1.5


async def test_any_status_with_retry_after(sandbox, venue_client):
    venue, exchange = venue_client
    control = sandbox.control(venue)
    fault = control.fault("http", status=429, retry_after=3, api_key=exchange.test_key, times=1)
    with fault, pytest.raises(ccxt.NetworkError):
        await exchange.fetch_balance()
    assert exchange.last_response_headers["Retry-After"] == "3"


async def test_malformed_json_reaches_ccxt_as_text(sandbox, venue_client):
    """A truncated 200 body is not JSON: ccxt hands the implicit caller the raw text (and fetch_balance would
    build its result from nothing). Callers must check the type of what they got."""
    venue, exchange = venue_client
    method, params = RAW_BALANCE[venue]
    with sandbox.control(venue).fault("malformed_json", api_key=exchange.test_key, times=1):
        raw = await getattr(exchange, method)(params)
    assert isinstance(raw, str)
    assert raw.startswith("{")


@pytest.mark.parametrize("planted", ["NaN", "-5", "1e308", "lots", 1e308, math.nan, None])
async def test_planted_amounts_reach_ccxt_verbatim(sandbox, venue_client, planted):
    venue, exchange = venue_client
    method, params = RAW_BALANCE[venue]
    where, field = PLANT[venue]
    with sandbox.control(venue).fault("set_fields", fields={field: planted}, api_key=exchange.test_key, times=1):
        raw = await getattr(exchange, method)(params)
    if isinstance(planted, float) and math.isnan(planted):
        # A bare NaN token is not JSON: ccxt's parser (orjson) refuses it and returns the text.
        assert isinstance(raw, str)
        assert "NaN" in raw
    else:
        assert where(raw) == planted


async def test_missing_fields(sandbox, venue_client):
    venue, exchange = venue_client
    method, params = RAW_BALANCE[venue]
    where, field = PLANT[venue]
    with sandbox.control(venue).fault("drop_fields", fields=[field], api_key=exchange.test_key, times=1):
        raw = await getattr(exchange, method)(params)
    with pytest.raises(KeyError):
        where(raw)


# The venue's raw balance document → {asset as the venue names it: the amount field}.
AMOUNTS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "binance": lambda doc: {b["asset"]: b["free"] for b in doc["balances"]},
    "bybit": lambda doc: {c["coin"]: c["walletBalance"] for c in doc["result"]["list"][0]["coin"]},
    "coinbase": lambda doc: {a["currency"]: a["available_balance"]["value"] for a in doc["accounts"]},
    "kraken": lambda doc: dict(doc["result"]),
    "okx": lambda doc: {d["ccy"]: d["eq"] for d in doc["data"][0]["details"]},
}
KRAKEN_IDS = {"BTC": "XXBT", "ETH": "XETH"}


async def test_malformed_balances_planted_through_the_control_api(sandbox, venue_client):
    """Negative totals, 1e308, NaN and words where numbers belong are served as planted (a venue's fixed-point
    formatting may add zeros to a plain decimal, never change its value)."""
    venue, exchange = venue_client
    wallet = next(iter(_balances(venue)))
    control = sandbox.control(venue)
    planted = {"BTC": "-5", "ETH": 1e308, "SOL": "NaN", "DOT": "lots"}
    control.set_balances(exchange.test_key, {wallet: planted}, replace=False)
    try:
        method, params = RAW_BALANCE[venue]
        served = AMOUNTS[venue](await getattr(exchange, method)(params))
        ids = KRAKEN_IDS if venue == "kraken" else {}
        amounts = {code: served[ids.get(code, code)] for code in planted}
        assert Decimal(amounts["BTC"]) == -5
        assert amounts["ETH"] == 1e308
        assert isinstance(amounts["ETH"], float)  # a JSON number, as planted
        assert (amounts["SOL"], amounts["DOT"]) == ("NaN", "lots")
    finally:
        control.set_balances(exchange.test_key, _balances(venue))
