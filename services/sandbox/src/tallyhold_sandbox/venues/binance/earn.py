"""Binance Simple Earn (flexible and locked positions, the account summary), the retired Savings summary
ccxt still calls for `fetch_balance(type="savings")`, and locked Staking positions. Wallets: earn_flexible,
earn_locked, staking."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import add, fixed
from tallyhold_sandbox.venues.base import Venue, json_response, now_ms
from tallyhold_sandbox.venues.binance.account import amount8, btc_value
from tallyhold_sandbox.venues.binance.auth import signed


# earn and staking ----------------------------------------------------------------------------------------
def _rows(rows: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    only = params.get("asset")
    chosen = [r for r in rows if only is None or r["asset"] == only]
    return {"rows": chosen, "total": len(chosen)}


async def earn_flexible(venue: Venue, request: web.Request) -> web.Response:
    key, params = await signed(venue, request)
    rows = [
        {
            "totalAmount": amount8(h.total),
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
            "amount": amount8(h.total),
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
            "amount": amount8(h.total),
            "amountInBTC": btc_value(venue, h.total, a),
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
            "amount": amount8(h.total),
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
