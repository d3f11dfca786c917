"""Binance USER_DATA endpoints: every wallet a read-only key can see, the key's own restrictions, and the
coin list (capital/config/getall). Shapes from developers.binance.com (Spot account, Wallet, Simple Earn,
Margin, USDⓈ-M and COIN-M futures) and the samples in ccxt's binance.py.

Wallets (control API names): spot and funding here; earn_flexible, earn_locked and staking in earn.py; margin,
usdm and coinm in derivatives.py. As on Binance, a Simple Earn flexible position also shows in the spot account as
an `LD<asset>` balance."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, Holding, add, fixed
from tallyhold_sandbox.venues.base import Venue, json_response, now_ms
from tallyhold_sandbox.venues.binance.auth import signed

FIAT = frozenset({"USD", "EUR", "GBP", "TRY", "BRL", "ARS", "UAH"})

# Neutral permission → the apiRestrictions flags it switches on (the README has the table).
FLAGS: dict[str, tuple[str, ...]] = {
    "read": ("enableReading",),
    "trade": ("enableSpotAndMarginTrading", "enableFixApiTrade"),
    "margin": ("enableMargin",),
    "futures": ("enableFutures", "enablePortfolioMarginTrading"),
    "options": ("enableVanillaOptions",),
    "withdraw": ("enableWithdrawals",),
    "transfer": ("enableInternalTransfer", "permitsUniversalTransfer"),
}
UNKNOWN_FLAG = "enableCopyTradingLeadTrader"  # plausible but unknown to any checker's allowlist


def uid(key: ApiKey) -> int:
    return 100_000_000 + int(hashlib.sha256(key.api_key.encode()).hexdigest()[:7], 16)


def amount8(value: Any) -> Any:
    return fixed(value, 8)


def btc_value(venue: Venue, amount: Any, asset: str) -> str:
    return venue.value_in(amount, asset, "BTC")


# spot --------------------------------------------------------------------------------------------------
def spot_holdings(key: ApiKey) -> dict[str, Holding]:
    """The spot balances as Binance lists them: the spot wallet plus LD<asset> for flexible Earn."""
    holdings = dict(key.wallet("spot"))
    for asset, holding in key.wallet("earn_flexible").items():
        holdings["LD" + asset] = Holding(free=holding.total)
    return holdings


async def account(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    omit_zero = params.get("omitZeroBalances", "false").lower() == "true"
    balances = [
        {"asset": asset, "free": amount8(h.free), "locked": amount8(h.locked)}
        for asset, h in spot_holdings(key).items()
        if not (omit_zero and add(h.free, h.locked) == "0")
    ]
    return json_response(
        {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": "0.00100000",
                "taker": "0.00100000",
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": uid(key),
        }
    )


async def capital_config(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    spot = key.wallet("spot")
    coins = []
    for asset in venue.assets():
        holding = spot.get(asset, Holding("0"))
        fiat = asset in FIAT
        network = {
            "network": asset,
            "coin": asset,
            "withdrawIntegerMultiple": "0.00000001",
            "isDefault": True,
            "depositEnable": True,
            "withdrawEnable": True,
            "depositDesc": "",
            "withdrawDesc": "",
            "specialTips": "",
            "name": asset,
            "resetAddressStatus": False,
            "addressRegex": "^[0-9a-zA-Z]{20,64}$",
            "memoRegex": "",
            "withdrawFee": "0.0001",
            "withdrawMin": "0.001",
            "withdrawMax": "9999999",
            "withdrawInternalMin": "0.00000001",
            "depositDust": "0.00000001",
            "minConfirm": 1,
            "unLockConfirm": 2,
            "sameAddress": False,
            "estimatedArrivalTime": 25,
            "busy": False,
            "contractAddressUrl": "",
            "contractAddress": "",
            "denomination": 1,
        }
        coins.append(
            {
                "coin": asset,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "name": asset,
                "free": amount8(holding.free),
                "locked": amount8(holding.locked),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": fiat,
                "trading": True,
                "networkList": [] if fiat else [network],
            }
        )
    return json_response(coins)


# funding and the all-asset view ---------------------------------------------------------------------------
def _funding_row(venue: Venue, asset: str, h: Holding, *, valuation: bool) -> dict[str, Any]:
    row = {"asset": asset, "free": h.free, "locked": h.locked, "freeze": "0", "withdrawing": "0"}
    if valuation:
        row["btcValuation"] = btc_value(venue, h.total, asset)
    return row


async def funding_asset(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    valuation = params.get("needBtcValuation", "false").lower() == "true"
    only = params.get("asset")
    rows = [
        _funding_row(venue, a, h, valuation=valuation)
        for a, h in key.wallet("funding").items()
        if only is None or a == only
    ]
    return json_response(rows)


async def user_asset(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    valuation = params.get("needBtcValuation", "false").lower() == "true"
    only = params.get("asset")
    rows = []
    for asset, h in spot_holdings(key).items():
        if only is not None and asset != only:
            continue
        row = {
            "asset": asset,
            "free": amount8(h.free),
            "locked": amount8(h.locked),
            "freeze": "0",
            "withdrawing": "0",
            "ipoable": "0",
            "btcValuation": btc_value(venue, h.total, asset) if valuation else "0",
        }
        rows.append(row)
    return json_response(rows)


WALLET_NAMES = {
    "spot": "Spot",
    "funding": "Funding",
    "margin": "Cross Margin",
    "isolated": "Isolated Margin",
    "usdm": "USDⓈ-M Futures",
    "coinm": "COIN-M Futures",
    "earn": "Earn",
    "options": "Options",
    "bots": "Trading Bots",
    "copy": "Copy Trading",
}


async def wallet_balance(venue: Venue, request: web.Request) -> web.Response:
    """GET /sapi/v1/asset/wallet/balance: every wallet's value in BTC (quoteAsset=USDT etc. also accepted)."""
    key, params = await signed(venue, request)
    quote = params.get("quoteAsset", "BTC")
    groups = {
        "spot": ["spot"],
        "funding": ["funding"],
        "margin": ["margin"],
        "isolated": [],
        "usdm": ["usdm"],
        "coinm": ["coinm"],
        "earn": ["earn_flexible", "earn_locked", "staking"],
        "options": [],
        "bots": [],
        "copy": [],
    }
    rows = []
    for group, wallets in groups.items():
        total_value = add(*[venue.value_in(h.total, a, quote) for w in wallets for a, h in key.wallet(w).items()], "0")
        rows.append({"activate": True, "balance": fixed(total_value, 8), "walletName": WALLET_NAMES[group]})
    return json_response(rows)


# the key itself ---------------------------------------------------------------------------------------------
def restrictions(key: ApiKey) -> dict[str, Any]:
    flags = {flag: False for names in FLAGS.values() for flag in names}
    for permission in key.permissions:
        for flag in FLAGS.get(permission, ()):
            flags[flag] = True
    body: dict[str, Any] = {
        "ipRestrict": bool(key.ip_allowlist),
        "createTime": int(key.created_at.timestamp() * 1000),
        **flags,
        "enableFixReadOnly": key.can("read"),
    }
    if "unknown" in key.permissions:
        body[UNKNOWN_FLAG] = True
    if key.expires_at is not None:
        body["tradingAuthorityExpirationTime"] = int(key.expires_at.timestamp() * 1000)
    body.update(key.native_permissions)
    return body


async def api_restrictions(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request, need=None)
    return json_response(restrictions(key))


async def ip_restriction(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request, need=None)
    return json_response(
        {
            "ipRestrict": "true" if key.ip_allowlist else "false",
            "ipList": key.ip_allowlist,
            "updateTime": int(key.created_at.timestamp() * 1000),
            "apiKey": key.api_key,
        }
    )


async def account_status(venue: Venue, request: web.Request) -> web.Response:
    await signed(venue, request)
    return json_response({"data": "Normal"})
