"""Binance public market data: exchangeInfo (spot, USDⓈ-M, COIN-M), tickers, server time. Shapes from
developers.binance.com (General endpoints, Market data) and the samples in ccxt's binance.py."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import as_decimal
from tallyhold_sandbox.venues.base import Pair, Reject, Venue, json_response, now_ms

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
# The perpetuals the futures venues list when their spot pair exists.
LINEAR_BASES = ("BTC", "ETH", "SOL", "BNB")
INVERSE_BASES = ("BTC", "ETH")


def symbol_id(pair: Pair) -> str:
    return pair.base + pair.quote


def tick_size(pair: Pair) -> str:
    last = as_decimal(pair.value("last")) or Decimal(1)
    return "0.01000000" if last >= 100 else "0.00010000" if last >= 1 else "0.00000001"


def _spot_symbol(pair: Pair) -> dict[str, Any]:
    return {
        "symbol": symbol_id(pair),
        "status": "TRADING",
        "baseAsset": pair.base,
        "baseAssetPrecision": 8,
        "quoteAsset": pair.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick_size(pair),
                "maxPrice": "1000000.00000000",
                "tickSize": tick_size(pair),
            },
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _futures_symbol(pair: Pair, *, inverse: bool) -> dict[str, Any]:
    common = {
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": pair.base,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.10", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
    if inverse:
        return {
            "symbol": f"{pair.base}USD_PERP",
            "pair": f"{pair.base}USD",
            "contractStatus": "TRADING",
            "contractSize": 100 if pair.base == "BTC" else 10,
            "quoteAsset": "USD",
            "marginAsset": pair.base,
            "equalQtyPrecision": 4,
            **common,
        }
    return {
        "symbol": symbol_id(pair),
        "pair": symbol_id(pair),
        "status": "TRADING",
        "quoteAsset": pair.quote,
        "marginAsset": pair.quote,
        "settlePlan": 0,
        **common,
    }


def _futures_pairs(venue: Venue, bases: tuple[str, ...]) -> list[Pair]:
    return [p for p in venue.pairs() if p.quote == "USDT" and p.base in bases]


async def exchange_info(venue: Venue, request: web.Request) -> web.Response:
    pairs = venue.pairs()
    wanted = _requested_symbols(request)
    if wanted is not None:
        pairs = [p for p in pairs if symbol_id(p) in wanted]
    return json_response(
        {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [_spot_symbol(p) for p in pairs],
        }
    )


async def futures_exchange_info(venue: Venue, _: web.Request, *, inverse: bool) -> web.Response:
    pairs = _futures_pairs(venue, INVERSE_BASES if inverse else LINEAR_BASES)
    assets = [{"asset": a, "marginAvailable": True, "autoAssetExchange": "-10000"} for a in ("USDT", "USDC", "BTC")]
    return json_response(
        {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "COIN_MARGINED" if inverse else "U_MARGINED",
            "rateLimits": RATE_LIMITS[:2],
            "exchangeFilters": [],
            "assets": [] if inverse else assets,
            "symbols": [_futures_symbol(p, inverse=inverse) for p in pairs],
        }
    )


def _requested_symbols(request: web.Request) -> set[str] | None:
    if "symbol" in request.query:
        return {request.query["symbol"]}
    if "symbols" in request.query:
        try:
            listed = json.loads(request.query["symbols"])
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            raise Reject(
                json_response({"code": -1100, "msg": "Illegal characters found in parameter 'symbols'."}, status=400)
            )
        return {str(s) for s in listed}
    return None


def _pick(venue: Venue, request: web.Request) -> tuple[list[Pair], bool]:
    """The pairs a ticker request names, and whether it named exactly one (`symbol=`: object, not list)."""
    wanted = _requested_symbols(request)
    pairs = venue.pairs()
    if wanted is None:
        return pairs, False
    chosen = [p for p in pairs if symbol_id(p) in wanted]
    if len(chosen) != len(wanted):
        raise Reject(json_response({"code": -1121, "msg": "Invalid symbol."}, status=400))
    return chosen, "symbol" in request.query


def _ticker_24hr(pair: Pair) -> dict[str, Any]:
    last, open_ = pair.value("last"), pair.value("open")
    change, percent = "0", "0"
    last_d, open_d = as_decimal(last), as_decimal(open_)
    if last_d is not None and open_d:
        change = f"{last_d - open_d:.8f}"
        percent = f"{(last_d - open_d) / open_d * 100:.3f}"
    close_time = now_ms()
    return {
        "symbol": symbol_id(pair),
        "priceChange": change,
        "priceChangePercent": percent,
        "weightedAvgPrice": last,
        "prevClosePrice": open_,
        "lastPrice": last,
        "lastQty": "0.01000000",
        "bidPrice": pair.value("bid"),
        "bidQty": "1.00000000",
        "askPrice": pair.value("ask"),
        "askQty": "1.00000000",
        "openPrice": open_,
        "highPrice": pair.value("high"),
        "lowPrice": pair.value("low"),
        "volume": pair.value("volume"),
        "quoteVolume": pair.value("quote_volume"),
        "openTime": close_time - 86_400_000,
        "closeTime": close_time,
        "firstId": 1,
        "lastId": 1000,
        "count": 1000,
    }


async def ticker_24hr(venue: Venue, request: web.Request) -> web.Response:
    pairs, single = _pick(venue, request)
    rows = [_ticker_24hr(p) for p in pairs]
    return json_response(rows[0] if single else rows)


async def ticker_price(venue: Venue, request: web.Request) -> web.Response:
    pairs, single = _pick(venue, request)
    rows = [{"symbol": symbol_id(p), "price": p.value("last")} for p in pairs]
    return json_response(rows[0] if single else rows)


async def book_ticker(venue: Venue, request: web.Request) -> web.Response:
    pairs, single = _pick(venue, request)
    rows = [
        {
            "symbol": symbol_id(p),
            "bidPrice": p.value("bid"),
            "bidQty": "1.00000000",
            "askPrice": p.value("ask"),
            "askQty": "1.00000000",
        }
        for p in pairs
    ]
    return json_response(rows[0] if single else rows)


async def server_time(_: Venue, __: web.Request) -> web.Response:
    return json_response({"serverTime": now_ms()})


async def ping(_: Venue, __: web.Request) -> web.Response:
    return json_response({})


async def system_status(_: Venue, __: web.Request) -> web.Response:
    return json_response({"status": 0, "msg": "normal"})
