"""Binance cross margin (and the empty isolated-margin answer), USDⓈ-M and COIN-M futures wallets, and the margin
pair lists ccxt's load_markets reads. Wallets: margin, usdm, coinm."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, add, as_decimal, fixed, subtract
from tallyhold_sandbox.venues.base import Venue, json_response, now_ms
from tallyhold_sandbox.venues.binance.account import amount8, btc_value
from tallyhold_sandbox.venues.binance.auth import api_key_only, signed


# margin and futures ------------------------------------------------------------------------------------------
async def margin_account(venue: Venue, request: web.Request) -> web.Response:
    """GET /sapi/v1/margin/account (Query Cross Margin Account Details): per asset `borrowed` and `interest`
    are the debt, `netAsset` = free + locked − borrowed − interest (ccxt: debt = borrowed + interest)."""
    key, _ = await signed(venue, request)
    wallet = key.wallet("margin")
    assets = [
        {
            "asset": a,
            "borrowed": amount8(h.borrowed),
            "free": amount8(h.free),
            "interest": amount8(h.interest),
            "locked": amount8(h.locked),
            "netAsset": amount8(h.equity),
        }
        for a, h in wallet.items()
    ]
    total_btc = fixed(add(*[btc_value(venue, h.total, a) for a, h in wallet.items()], "0"), 8)
    liability_btc = fixed(add(*[btc_value(venue, h.debt, a) for a, h in wallet.items()], "0"), 8)
    net_btc = fixed(subtract(total_btc, liability_btc), 8)
    owed, held = as_decimal(liability_btc), as_decimal(total_btc)
    # Binance reports 999 for an account without debt; otherwise total assets / total liabilities.
    level = "999.00000000" if not owed or held is None else f"{held / owed:.8f}"
    return json_response(
        {
            "created": True,
            "borrowEnabled": True,
            "marginLevel": level,
            "collateralMarginLevel": level,
            "totalAssetOfBtc": total_btc,
            "totalLiabilityOfBtc": liability_btc,
            "totalNetAssetOfBtc": net_btc,
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
            "walletBalance": amount8(h.total),
            "unrealizedProfit": "0.00000000",
            "marginBalance": amount8(h.total),
            "maintMargin": "0.00000000",
            "initialMargin": amount8(h.locked),
            "positionInitialMargin": "0.00000000",
            "openOrderInitialMargin": amount8(h.locked),
            "crossWalletBalance": amount8(h.total),
            "crossUnPnl": "0.00000000",
            "availableBalance": amount8(h.free),
            "maxWithdrawAmount": amount8(h.free),
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
            "balance": amount8(h.total),
            "withdrawAvailable": amount8(h.free),
            "crossWalletBalance": amount8(h.total),
            "crossUnPnl": "0.00000000",
            "availableBalance": amount8(h.free),
            "maxWithdrawAmount": amount8(h.free),
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
