"""OKX v5 private endpoints.

Authentication as www.okx.com/docs-v5 "REST Authentication": headers OK-ACCESS-KEY, OK-ACCESS-PASSPHRASE,
OK-ACCESS-TIMESTAMP (ISO 8601 with milliseconds, UTC) and OK-ACCESS-SIGN = base64(HMAC-SHA256(secret,
timestamp + METHOD + requestPath (with its query string) + body)); a timestamp more than 30 s away from the
server's clock is refused (50102).

Wallets (control names): trading (account/balance), funding (asset/balances), savings (finance/savings),
staking (finance/staking-defi orders)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, Holding, add, fixed
from tallyhold_sandbox.venues.base import Reject, Venue, now, now_ms, same
from tallyhold_sandbox.venues.okx.market import fail, ok

MAX_SKEW_SECONDS = 30
# Neutral permission → OKX `perm` entry. OKX keys have exactly read_only, trade and withdraw; moving funds
# between accounts needs trade.
PERMS = {
    "read": "read_only",
    "trade": "trade",
    "margin": "trade",
    "futures": "trade",
    "options": "trade",
    "transfer": "trade",
    "withdraw": "withdraw",
    "unknown": "block_trade",  # plausible, but on no checker's allowlist
}


def uid(key: ApiKey) -> str:
    return str(44705892343619584 + int(hashlib.sha256(key.api_key.encode()).hexdigest()[:8], 16))


async def private(venue: Venue, request: web.Request, *, need: str | None = "read") -> tuple[ApiKey, dict[str, str]]:
    headers = request.headers
    if not headers.get("OK-ACCESS-KEY"):
        raise Reject(venue.auth_error("missing_key"))
    key = venue.state.find_key(headers.get("OK-ACCESS-KEY"))
    if key is None:
        raise Reject(venue.auth_error("unknown_key"))
    timestamp = headers.get("OK-ACCESS-TIMESTAMP", "")
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise Reject(fail("50112", "Invalid OK-ACCESS-TIMESTAMP", status=401)) from None
    if moment.tzinfo is None:
        raise Reject(fail("50112", "Invalid OK-ACCESS-TIMESTAMP", status=401))
    body = (await request.read()).decode()
    path = request.rel_url.raw_path + (
        f"?{request.rel_url.raw_query_string}" if request.rel_url.raw_query_string else ""
    )
    prehash = timestamp + request.method + path + body
    expected = base64.b64encode(hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()
    if not same(headers.get("OK-ACCESS-SIGN", ""), expected):
        raise Reject(venue.auth_error("bad_signature"))
    if abs((now() - moment).total_seconds()) > MAX_SKEW_SECONDS:
        raise Reject(venue.auth_error("bad_timestamp"))
    if key.passphrase is None or not same(headers.get("OK-ACCESS-PASSPHRASE", ""), key.passphrase):
        raise Reject(venue.auth_error("bad_passphrase"))
    params = dict(parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True))
    return venue.admit(key, request, need=need), params


def _holdings(key: ApiKey, wallet: str, params: dict[str, str]) -> list[tuple[str, Holding]]:
    wanted = set(params["ccy"].split(",")) if params.get("ccy") else None
    return [(c, h) for c, h in key.wallet(wallet).items() if wanted is None or c in wanted]


# the key -------------------------------------------------------------------------------------------------
def account_config(key: ApiKey) -> dict[str, Any]:
    perms: list[str] = []
    for permission in ("read", "trade", "margin", "futures", "options", "transfer", "withdraw", "unknown"):
        if permission in key.permissions and PERMS[permission] not in perms:
            perms.append(PERMS[permission])
    config: dict[str, Any] = {
        "acctLv": "2",
        "acctStpMode": "cancel_maker",
        "autoLoan": False,
        "ctIsoMode": "automatic",
        "enableSpotBorrow": False,
        "greeksType": "PA",
        "ip": ",".join(key.ip_allowlist),
        "kycLv": "2",
        "label": key.label,
        "level": "Lv1",
        "levelTmp": "",
        "liquidationGear": "-1",
        "mainUid": uid(key),
        "mgnIsoMode": "automatic",
        "opAuth": "0",
        "perm": ",".join(perms),
        "posMode": "net_mode",
        "roleType": "0",
        "spotBorrowAutoRepay": False,
        "spotOffsetType": "",
        "spotRoleType": "0",
        "spotTraderInsts": [],
        "traderInsts": [],
        "type": "0",
        "uid": uid(key),
        "settleCcy": "USDT",
        "settleCcyList": ["USD", "USDC", "USDG"],
    }
    config.update(key.native_permissions)
    return config


async def config(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await private(venue, request, need=None)
    return ok([account_config(key)])


# wallets ---------------------------------------------------------------------------------------------------
async def trading_balance(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    details, usd = [], []
    updated = str(now_ms())
    for code, h in _holdings(key, "trading", params):
        # A borrowed currency (multi-currency / portfolio margin): cash balance and equity go negative by the
        # debt, and `liab` (positive), `crossLiab` and `interest` report it.
        value = venue.value_in(h.equity, code, "USDT")
        usd.append(value)
        details.append(
            {
                "availBal": h.free,
                "availEq": h.free,
                "borrowFroz": "",
                "cashBal": h.equity,
                "ccy": code,
                "crossLiab": h.debt,
                "disEq": value,
                "eq": h.equity,
                "eqUsd": value,
                "fixedBal": "0",
                "frozenBal": h.locked,
                "imr": "",
                "interest": h.interest,
                "isoEq": "0",
                "isoLiab": "0",
                "isoUpl": "0",
                "liab": h.debt,
                "maxLoan": "0",
                "mgnRatio": "",
                "mmr": "",
                "notionalLever": "",
                "ordFrozen": h.locked,
                "rewardBal": "0",
                "spotInUseAmt": "",
                "spotIsoBal": "0",
                "stgyEq": "0",
                "twap": "0",
                "uTime": updated,
                "upl": "0",
                "uplLiab": "0",
            }
        )
    total = fixed(add(*usd, "0"), 8)
    account = {
        "adjEq": total,
        "borrowFroz": "",
        "details": details,
        "imr": "0",
        "isoEq": "0",
        "mgnRatio": "",
        "mmr": "0",
        "notionalUsd": "0",
        "ordFroz": "0",
        "totalEq": total,
        "uTime": updated,
        "upl": "0",
    }
    return ok([account])


async def funding_balances(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    return ok(
        [
            {"availBal": h.free, "bal": h.total, "ccy": c, "frozenBal": h.locked}
            for c, h in _holdings(key, "funding", params)
        ]
    )


async def savings_balance(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    return ok(
        [
            {"earnings": "0", "redemptAmt": "", "rate": "0.01", "ccy": c, "amt": h.total, "loanAmt": h.total,
             "pendingAmt": "0"}
            for c, h in _holdings(key, "savings", params)
        ]
    )  # fmt: skip


async def staking_orders(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    purchased = str(now_ms() - 86_400_000)
    return ok(
        [
            {"ordId": str(754147 + i), "ccy": c, "productId": str(101 + i), "state": "1", "protocol": "OKX Staking",
             "protocolType": "staking", "term": "0", "apy": "0.0402", "investData": [{"ccy": c, "amt": h.total}],
             "earningData": [{"ccy": c, "earningType": "0", "earnings": "0"}], "purchasedTime": purchased,
             "estSettlementTime": "", "cancelRedemptionDeadline": "", "tag": ""}
            for i, (c, h) in enumerate(_holdings(key, "staking", params))
        ]
    )  # fmt: skip


async def asset_valuation(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request)
    quote = params.get("ccy", "BTC")

    def value(*wallets: str) -> Any:
        return fixed(
            add(*[venue.value_in(h.total, c, quote) for w in wallets for c, h in key.wallet(w).items()], "0"), 8
        )

    details = {"classic": "0", "earn": value("savings", "staking"), "funding": value("funding"),
               "trading": value("trading")}  # fmt: skip
    return ok([{"details": details, "totalBal": fixed(add(*details.values()), 8), "ts": str(now_ms())}])


async def currencies(venue: Venue, request: web.Request) -> web.Response:
    await private(venue, request)
    rows = [
        {"canDep": True, "canInternal": True, "canWd": True, "ccy": code, "chain": f"{code}-{code}",
         "depQuotaFixed": "", "depQuoteDailyLayer2": "", "logoLink": "", "mainNet": True, "maxFee": "0.0004",
         "maxFeeForCtAddr": "", "maxWd": "500", "minDep": "0.00005", "minDepArrivalConfirm": "1", "minFee": "0.0002",
         "minFeeForCtAddr": "", "minInternal": "0.0001", "minWd": "0.0005", "minWdUnlockConfirm": "2", "name": code,
         "needTag": False, "usedDepQuotaFixed": "", "usedWdQuota": "0", "wdQuota": "200", "wdTickSz": "8",
         "burningFeeRate": "", "ctAddr": "", "depEstOpenTime": "", "wdEstOpenTime": ""}
        for code in venue.assets()
    ]  # fmt: skip
    return ok(rows)
