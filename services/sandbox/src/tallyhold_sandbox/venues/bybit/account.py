"""Bybit v5 private endpoints for a Unified Trading Account key.

Authentication as bybit-exchange.github.io/docs/v5/guide "Authentication": headers X-BAPI-API-KEY,
X-BAPI-TIMESTAMP (ms), X-BAPI-RECV-WINDOW (default 5000), X-BAPI-SIGN = hex HMAC-SHA256 of
timestamp + api_key + recv_window + (query string for GET | JSON body for POST); the request is refused unless
server_time - recv_window <= timestamp < server_time + 1000.

Wallets (control names): unified (UNIFIED wallet), fund (FUND), earn_flexible (Earn FlexibleSaving),
earn_onchain (Earn OnChain)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, Holding, add, as_decimal, fixed
from tallyhold_sandbox.venues.base import Reject, Venue, json_response, now, now_ms, same
from tallyhold_sandbox.venues.bybit.market import envelope, fail

DEFAULT_RECV_WINDOW = 5000
READ_CATEGORIES: dict[str, list[str]] = {
    "ContractTrade": ["Order", "Position"],
    "Spot": ["SpotTrade"],
    "Wallet": [],
    "Options": ["OptionsTrade"],
    "Derivatives": ["DerivativesTrade"],
    "CopyTrading": [],
    "BlockTrade": [],
    "Exchange": ["ExchangeHistory"],
    "NFT": [],
    "Affiliate": [],
    "Earn": ["Earn"],
    "FiatP2P": [],
    "FiatBybitPay": [],
    "FiatConvertBroker": [],
}
WRITE = frozenset({"trade", "margin", "futures", "options", "withdraw", "transfer"})


def user_id(key: ApiKey) -> int:
    return 10_000_000 + int(hashlib.sha256(key.api_key.encode()).hexdigest()[:6], 16)


async def private(venue: Venue, request: web.Request, *, need: str | None = "read") -> tuple[ApiKey, dict[str, str]]:
    headers = request.headers
    key = venue.state.find_key(headers.get("X-BAPI-API-KEY"))
    if key is None:
        raise Reject(venue.auth_error("unknown_key"))
    timestamp, recv_window = headers.get("X-BAPI-TIMESTAMP", ""), headers.get("X-BAPI-RECV-WINDOW", "")
    if not timestamp.isdigit():
        raise Reject(fail(10001, "params error: X-BAPI-TIMESTAMP is missing"))
    raw_body = (await request.read()).decode()
    payload = raw_body if request.method == "POST" else request.rel_url.raw_query_string
    prehash = timestamp + key.api_key + recv_window + payload
    expected = hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).hexdigest()
    if not same(headers.get("X-BAPI-SIGN", "").lower(), expected):
        raise Reject(venue.auth_error("bad_signature"))
    window = int(recv_window) if recv_window.isdigit() else DEFAULT_RECV_WINDOW
    server = now_ms()
    if not (server - window <= int(timestamp) < server + 1000):
        message = (
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{server}],recv_window[{window}]"
        )
        raise Reject(fail(10002, message))
    if request.method == "POST":
        try:
            decoded = json.loads(raw_body or "{}")
        except ValueError:
            raise Reject(fail(10001, "params error: body is not JSON")) from None
        params = {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}
    else:
        params = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    return venue.admit(key, request, need=need), params


# the key -----------------------------------------------------------------------------------------------
def key_information(key: ApiKey) -> dict[str, Any]:
    categories = {name: list(values) for name, values in READ_CATEGORIES.items()}
    if "withdraw" in key.permissions:
        categories["Wallet"].append("Withdraw")
    if "transfer" in key.permissions:
        categories["Wallet"][:0] = ["AccountTransfer", "SubMemberTransfer"]
    if "unknown" in key.permissions:
        categories["PayFi"] = ["PayFiTransfer"]  # a category no checker knows
    if "read" not in key.permissions:
        categories = {name: [] for name in categories}
    expired_at, deadline = "", -1
    if key.expires_at is not None:
        expired_at = key.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        deadline = max(0, (key.expires_at - now()).days)
    info: dict[str, Any] = {
        "id": str(user_id(key) * 7 % 100_000_000),
        "note": key.label,
        "apiKey": key.api_key,
        "readOnly": 0 if key.permissions & WRITE else 1,
        "secret": "",
        "permissions": categories,
        "ips": list(key.ip_allowlist) or ["*"],
        "type": 1,
        "deadlineDay": deadline,
        "expiredAt": expired_at,
        "createdAt": key.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "unified": 0,
        "uta": 1,
        "userID": user_id(key),
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_1",
        "kycRegion": "",
    }
    info.update(key.native_permissions)
    return info


async def query_api(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await private(venue, request, need=None)
    return json_response(envelope(key_information(key), message=""))


async def account_info(venue: Venue, request: web.Request) -> web.Response:
    await private(venue, request)
    return json_response(
        envelope(
            {
                "marginMode": "REGULAR_MARGIN",
                "updatedTime": str(now_ms()),
                "unifiedMarginStatus": 6,
                "dcpStatus": "OFF",
                "timeWindow": 10,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )
    )


# wallets -------------------------------------------------------------------------------------------------
def _coins(key: ApiKey, wallet: str, only: str | None) -> list[tuple[str, Holding]]:
    wanted = set(only.split(",")) if only else None
    return [(c, h) for c, h in key.wallet(wallet).items() if wanted is None or c in wanted]


async def wallet_balance(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    if params.get("accountType") != "UNIFIED":
        return fail(10001, "accountType only support UNIFIED.")
    coins, usd_values = [], []
    for code, holding in _coins(key, "unified", params.get("coin")):
        # A borrowed coin (UTA spot margin): wallet balance and equity go negative by the debt; `borrowAmount`
        # and `accruedInterest` report it (ccxt: debt = borrowAmount + accruedInterest).
        usd = venue.value_in(holding.equity, code, "USDT")
        usd_values.append(usd)
        coins.append(
            {
                "availableToBorrow": "",
                "bonus": "0",
                "accruedInterest": holding.interest,
                "availableToWithdraw": "",
                "totalOrderIM": "0",
                "equity": holding.equity,
                "totalPositionMM": "0",
                "usdValue": usd,
                "spotHedgingQty": "0",
                "unrealisedPnl": "0",
                "collateralSwitch": True,
                "borrowAmount": holding.borrowed,
                "totalPositionIM": "0",
                "walletBalance": holding.equity,
                "cumRealisedPnl": "0",
                "locked": holding.locked,
                "marginCollateral": True,
                "coin": code,
            }
        )
    total = fixed(add(*usd_values, "0"), 8)
    account = {
        "totalEquity": total,
        "accountIMRate": "0",
        "accountIMRateByMp": "0",
        "totalMarginBalance": total,
        "totalInitialMargin": "0",
        "totalInitialMarginByMp": "0",
        "accountType": "UNIFIED",
        "totalAvailableBalance": total,
        "accountMMRate": "0",
        "accountMMRateByMp": "0",
        "totalPerpUPL": "0",
        "totalWalletBalance": total,
        "accountLTV": "0",
        "totalMaintenanceMargin": "0",
        "totalMaintenanceMarginByMp": "0",
        "coin": coins,
    }
    return json_response(envelope({"list": [account]}))


async def account_coins_balance(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    account_type = params.get("accountType")
    wallet = {"FUND": "fund", "UNIFIED": "unified"}.get(account_type or "")
    if wallet is None:
        return fail(10001, "accountType is invalid")
    rows = [
        {"coin": c, "walletBalance": h.equity, "transferBalance": h.free, "bonus": ""}
        for c, h in _coins(key, wallet, params.get("coin"))
    ]
    return json_response(
        envelope({"memberId": str(user_id(key)), "accountType": account_type, "balance": rows}, message="success")
    )


async def earn_position(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    wallet = {"FlexibleSaving": "earn_flexible", "OnChain": "earn_onchain"}.get(params.get("category", ""))
    if wallet is None:
        return fail(180001, "Invalid parameter")
    rows = [
        {
            "coin": code,
            "productId": str(index + 1),
            "amount": holding.total,
            "totalPnl": "0",
            "claimableYield": "0",
            "id": str(1000 + index),
            "status": "Active",
            "orderId": "",
            "estimateRedeemTime": "",
            "estimateStakeTime": "",
            "estimateInterestCalculationTime": "",
            "settlementTime": "",
        }
        for index, (code, holding) in enumerate(_coins(key, wallet, params.get("coin")))
    ]
    return json_response(envelope({"list": rows}, message=""))


async def coin_info(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    rows = []
    for code in venue.assets():
        if params.get("coin") and params["coin"] != code:
            continue
        held = add(*[key.wallet(w).get(code, Holding("0")).total for w in ("unified", "fund")])
        chain = {
            "chainType": code,
            "confirmation": "6",
            "withdrawFee": "0.0005",
            "depositMin": "0",
            "withdrawMin": "0.001",
            "chain": code,
            "chainDeposit": "1",
            "chainWithdraw": "1",
            "minAccuracy": "8",
            "withdrawPercentageFee": "0",
            "contractAddress": "",
            "safeConfirmNumber": "1",
        }
        remain = held if as_decimal(held) is not None else "0"
        rows.append({"name": code, "coin": code, "remainAmount": remain, "chains": [chain]})
    return json_response(envelope({"rows": rows}, message=""))
