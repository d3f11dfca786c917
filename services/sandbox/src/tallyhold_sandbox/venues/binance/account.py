"""Binance USER_DATA endpoints: every wallet a read-only key can see, the key's own restrictions, and the
coin list (capital/config/getall). Shapes from developers.binance.com (Spot account, Wallet, Simple Earn,
Margin, USDⓈ-M and COIN-M futures) and the samples in ccxt's binance.py.

Wallets (control API names): spot, funding, earn_flexible, earn_locked, staking, margin, usdm, coinm.
As on Binance, a Simple Earn flexible position also shows in the spot account as an `LD<asset>` balance."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, Holding, add, fixed
from tallyhold_sandbox.venues.base import Venue, json_response, now_ms
from tallyhold_sandbox.venues.binance.auth import api_key_only, signed

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


def _f(value: Any) -> Any:
    return fixed(value, 8)


def _btc(venue: Venue, amount: Any, asset: str) -> str:
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
        {"asset": asset, "free": _f(h.free), "locked": _f(h.locked)}
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
                "free": _f(holding.free),
                "locked": _f(holding.locked),
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
        row["btcValuation"] = _btc(venue, h.total, asset)
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
            "free": _f(h.free),
            "locked": _f(h.locked),
            "freeze": "0",
            "withdrawing": "0",
            "ipoable": "0",
            "btcValuation": _btc(venue, h.total, asset) if valuation else "0",
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


# earn and staking ----------------------------------------------------------------------------------------
def _rows(rows: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    only = params.get("asset")
    chosen = [r for r in rows if only is None or r["asset"] == only]
    return {"rows": chosen, "total": len(chosen)}


async def earn_flexible(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    rows = [
        {
            "totalAmount": _f(h.total),
            "tierAnnualPercentageRate": {},
            "latestAnnualPercentageRate": "0.02599895",
            "yesterdayAirdropPercentageRate": "0",
            "asset": asset,
            "airDropAsset": "",
            "canRedeem": True,
            "collateralAmount": "0",
            "productId": f"{asset}001",
            "yesterdayRealTimeRewards": "0",
            "cumulativeBonusRewards": "0",
            "cumulativeRealTimeRewards": "0",
            "cumulativeTotalRewards": "0",
            "autoSubscribe": True,
        }
        for asset, h in key.wallet("earn_flexible").items()
    ]
    return json_response(_rows(rows, params))


async def earn_locked(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    start = now_ms() - 4 * 86_400_000
    rows = [
        {
            "positionId": 100000 + index,
            "parentPositionId": 0,
            "projectId": f"{asset}*120",
            "asset": asset,
            "amount": _f(h.total),
            "purchaseTime": str(start),
            "duration": "120",
            "accrualDays": "4",
            "rewardAsset": asset,
            "APY": "0.0500",
            "rewardAmt": "0",
            "extraRewardAsset": "",
            "extraRewardAPR": "0",
            "estExtraRewardAmt": "0",
            "boostRewardAsset": "",
            "boostApr": "0",
            "totalBoostRewardAmt": "0",
            "nextPay": "0",
            "nextPayDate": str(start + 5 * 86_400_000),
            "payPeriod": "1",
            "redeemAmountEarly": "0",
            "rewardsEndDate": str(start + 120 * 86_400_000),
            "deliverDate": str(start + 121 * 86_400_000),
            "redeemPeriod": "1",
            "redeemingAmt": "0",
            "redeemTo": "SPOT",
            "partialAmtDeliverDate": "",
            "canRedeemEarly": True,
            "canFastRedemption": False,
            "autoSubscribe": True,
            "type": "NORMAL",
            "status": "HOLDING",
            "canReStake": False,
        }
        for index, (asset, h) in enumerate(key.wallet("earn_locked").items())
    ]
    return json_response(_rows(rows, params))


async def earn_account(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)

    def total(wallet: str, quote: str) -> Any:
        return fixed(add(*[venue.value_in(h.total, a, quote) for a, h in key.wallet(wallet).items()], "0"), 8)

    flexible_btc, flexible_usdt = total("earn_flexible", "BTC"), total("earn_flexible", "USDT")
    locked_btc, locked_usdt = total("earn_locked", "BTC"), total("earn_locked", "USDT")
    return json_response(
        {
            "totalAmountInBTC": fixed(add(flexible_btc, locked_btc), 8),
            "totalAmountInUSDT": fixed(add(flexible_usdt, locked_usdt), 8),
            "totalFlexibleAmountInBTC": flexible_btc,
            "totalFlexibleAmountInUSDT": flexible_usdt,
            "totalLockedInBTC": locked_btc,
            "totalLockedInUSDT": locked_usdt,
        }
    )


async def lending_union_account(venue: Venue, request: web.Request) -> web.Response:
    """The retired Savings summary (ccxt's fetch_balance type "savings"), fed by the flexible Earn wallet."""
    key, _ = await signed(venue, request)
    rows = [
        {
            "amount": _f(h.total),
            "amountInBTC": _btc(venue, h.total, a),
            "amountInUSDT": venue.value_in(h.total, a, "USDT"),
            "asset": a,
        }
        for a, h in key.wallet("earn_flexible").items()
    ]
    total_btc = fixed(add(*[r["amountInBTC"] for r in rows], "0"), 8)
    total_usdt = fixed(add(*[r["amountInUSDT"] for r in rows], "0"), 8)
    return json_response(
        {
            "positionAmountVos": rows,
            "totalAmountInBTC": total_btc,
            "totalAmountInUSDT": total_usdt,
            "totalFixedAmountInBTC": "0.00000000",
            "totalFixedAmountInUSDT": "0.00000000",
            "totalFlexibleInBTC": total_btc,
            "totalFlexibleInUSDT": total_usdt,
        }
    )


async def staking_position(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    product = params.get("product")
    if product not in {"STAKING", "F_DEFI", "L_DEFI"}:
        return json_response(
            {"code": -1102, "msg": "Mandatory parameter 'product' was not sent, was empty/null, or malformed."},
            status=400,
        )
    if product != "STAKING":
        return json_response([])
    rows = [
        {
            "positionId": str(7146912 + i),
            "projectId": f"STAKING{i:03d}",
            "asset": asset,
            "amount": _f(h.total),
            "purchaseTime": str(now_ms() - 86_400_000),
            "duration": "30",
            "accrualDays": "1",
            "rewardAsset": asset,
            "APY": "0.0520",
            "rewardAmt": "0",
            "extraRewardAsset": "",
            "extraRewardAPY": "0",
            "estExtraRewardAmt": "0",
            "nextInterestPay": "0",
            "nextInterestPayDate": str(now_ms() + 86_400_000),
            "payInterestPeriod": "1",
            "redeemAmountEarly": "0",
            "interestEndDate": str(now_ms() + 29 * 86_400_000),
            "deliverDate": str(now_ms() + 30 * 86_400_000),
            "redeemPeriod": "1",
            "redeemingAmt": "0",
            "partialAmtDeliverDate": "",
            "canRedeemEarly": True,
            "renewable": True,
            "type": "AUTO",
            "status": "HOLDING",
        }
        for i, (asset, h) in enumerate(key.wallet("staking").items())
    ]
    return json_response(rows)


# margin and futures ------------------------------------------------------------------------------------------
async def margin_account(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    assets = [
        {
            "asset": a,
            "borrowed": "0.00000000",
            "free": _f(h.free),
            "interest": "0.00000000",
            "locked": _f(h.locked),
            "netAsset": _f(h.total),
        }
        for a, h in key.wallet("margin").items()
    ]
    total_btc = fixed(add(*[_btc(venue, h.total, a) for a, h in key.wallet("margin").items()], "0"), 8)
    return json_response(
        {
            "created": True,
            "borrowEnabled": True,
            "marginLevel": "999.00000000",
            "collateralMarginLevel": "999.00000000",
            "totalAssetOfBtc": total_btc,
            "totalLiabilityOfBtc": "0.00000000",
            "totalNetAssetOfBtc": total_btc,
            "TotalCollateralValueInUSDT": "0.00000000",
            "totalOpenOrderLossInUsdt": "0.00000000",
            "tradeEnabled": True,
            "transferInEnabled": True,
            "transferOutEnabled": True,
            "accountType": "MARGIN_1",
            "userAssets": assets,
        }
    )


async def isolated_margin_account(venue: Venue, request: web.Request) -> web.Response:
    """No isolated pairs are modelled: the answer of an account that never opened one."""
    await signed(venue, request)
    return json_response({"assets": [], "totalAssetOfBtc": "0", "totalLiabilityOfBtc": "0", "totalNetAssetOfBtc": "0"})


async def margin_all_pairs(venue: Venue, request: web.Request) -> web.Response:
    api_key_only(venue, request)
    rows = [
        {
            "id": 351637150141315861 + i,
            "symbol": p.base + p.quote,
            "base": p.base,
            "quote": p.quote,
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        for i, p in enumerate(venue.pairs())
    ]
    return json_response(rows)


async def isolated_all_pairs(venue: Venue, request: web.Request) -> web.Response:
    await signed(venue, request)
    rows = [
        {
            "symbol": p.base + p.quote,
            "base": p.base,
            "quote": p.quote,
            "isMarginTrade": True,
            "isBuyAllowed": True,
            "isSellAllowed": True,
        }
        for p in venue.pairs()
    ]
    return json_response(rows)


def _futures_assets(key: ApiKey, wallet: str) -> list[dict[str, Any]]:
    return [
        {
            "asset": a,
            "walletBalance": _f(h.total),
            "unrealizedProfit": "0.00000000",
            "marginBalance": _f(h.total),
            "maintMargin": "0.00000000",
            "initialMargin": _f(h.locked),
            "positionInitialMargin": "0.00000000",
            "openOrderInitialMargin": _f(h.locked),
            "crossWalletBalance": _f(h.total),
            "crossUnPnl": "0.00000000",
            "availableBalance": _f(h.free),
            "maxWithdrawAmount": _f(h.free),
            "marginAvailable": True,
            "updateTime": now_ms(),
        }
        for a, h in key.wallet(wallet).items()
    ]


async def usdm_account(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    assets = _futures_assets(key, "usdm")
    wallet_total = fixed(add(*[venue.value_in(h.total, a, "USDT") for a, h in key.wallet("usdm").items()], "0"), 8)
    available = fixed(add(*[venue.value_in(h.free, a, "USDT") for a, h in key.wallet("usdm").items()], "0"), 8)
    return json_response(
        {
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "feeBurn": True,
            "tradeGroupId": -1,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "totalInitialMargin": "0.00000000",
            "totalMaintMargin": "0.00000000",
            "totalWalletBalance": wallet_total,
            "totalUnrealizedProfit": "0.00000000",
            "totalMarginBalance": wallet_total,
            "totalPositionInitialMargin": "0.00000000",
            "totalOpenOrderInitialMargin": "0.00000000",
            "totalCrossWalletBalance": wallet_total,
            "totalCrossUnPnl": "0.00000000",
            "availableBalance": available,
            "maxWithdrawAmount": available,
            "assets": assets,
            "positions": [],
        }
    )


async def usdm_balance(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    return json_response(_futures_balance_rows(key, "usdm"))


def _futures_balance_rows(key: ApiKey, wallet: str) -> list[dict[str, Any]]:
    return [
        {
            "accountAlias": "SgsR",
            "asset": a,
            "balance": _f(h.total),
            "withdrawAvailable": _f(h.free),
            "crossWalletBalance": _f(h.total),
            "crossUnPnl": "0.00000000",
            "availableBalance": _f(h.free),
            "maxWithdrawAmount": _f(h.free),
            "marginAvailable": True,
            "updateTime": now_ms(),
        }
        for a, h in key.wallet(wallet).items()
    ]


async def coinm_account(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    return json_response(
        {
            "assets": _futures_assets(key, "coinm"),
            "positions": [],
            "canDeposit": True,
            "canTrade": True,
            "canWithdraw": True,
            "feeTier": 0,
            "updateTime": 0,
        }
    )


async def coinm_balance(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await signed(venue, request)
    return json_response(_futures_balance_rows(key, "coinm"))


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
