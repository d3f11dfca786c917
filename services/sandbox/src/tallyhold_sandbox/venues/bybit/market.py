"""Bybit v5 public market data: instruments-info (spot, linear, inverse, option), tickers, server time.
Shapes from bybit-exchange.github.io/docs/v5/market/{instrument,tickers,time} and ccxt's bybit.py samples."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import as_decimal
from tallyhold_sandbox.venues.base import Pair, Venue, json_response, now, now_ms

LINEAR_BASES = ("BTC", "ETH", "SOL")
INVERSE_BASES = ("BTC", "ETH")


def envelope(result: Any, *, code: int = 0, message: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": now_ms()}


def fail(code: int, message: str, *, status: int = 200) -> web.Response:
    return json_response(envelope({}, code=code, message=message), status=status)


def symbol_id(pair: Pair) -> str:
    return pair.base + pair.quote


def _tick(pair: Pair) -> str:
    last = as_decimal(pair.value("last"))
    return "0.01" if last is not None and last >= 100 else "0.0001" if last is not None and last >= 1 else "0.000001"


def _spot(pair: Pair) -> dict[str, Any]:
    return {
        "symbol": symbol_id(pair),
        "baseCoin": pair.base,
        "quoteCoin": pair.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "utaOnly",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": "0.000001",
            "quotePrecision": "0.00000001",
            "minOrderQty": "0.000048",
            "maxOrderQty": "71.73956243",
            "minOrderAmt": "1",
            "maxOrderAmt": "2000000",
        },
        "priceFilter": {"tickSize": _tick(pair)},
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
    }


def _derivative(pair: Pair, *, inverse: bool) -> dict[str, Any]:
    quote = "USD" if inverse else pair.quote
    return {
        "symbol": pair.base + quote,
        "contractType": "InversePerpetual" if inverse else "LinearPerpetual",
        "status": "Trading",
        "baseCoin": pair.base,
        "quoteCoin": quote,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
        "lotSizeFilter": {
            "maxOrderQty": "1190.000",
            "minOrderQty": "0.001",
            "qtyStep": "0.001",
            "postOnlyMaxOrderQty": "1190.000",
            "maxMktOrderQty": "119.000",
            "minNotionalValue": "5",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": pair.base if inverse else pair.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
    }


def _derivative_pairs(venue: Venue, bases: tuple[str, ...]) -> list[Pair]:
    return [p for p in venue.pairs() if p.quote == "USDT" and p.base in bases]


async def instruments(venue: Venue, request: web.Request) -> web.Response:
    category = request.query.get("category")
    if category not in {"spot", "linear", "inverse", "option"}:
        return fail(10001, "params error: category invalid")
    rows: list[dict[str, Any]] = []
    if request.query.get("status") == "PreLaunch" or category == "option":
        rows = []
    elif category == "spot":
        rows = [_spot(p) for p in venue.pairs()]
    elif category == "linear":
        rows = [_derivative(p, inverse=False) for p in _derivative_pairs(venue, LINEAR_BASES)]
    else:
        rows = [_derivative(p, inverse=True) for p in _derivative_pairs(venue, INVERSE_BASES)]
    if "symbol" in request.query:
        rows = [r for r in rows if r["symbol"] == request.query["symbol"]]
    return json_response(envelope({"category": category, "list": rows, "nextPageCursor": ""}))


def _ticker(pair: Pair) -> dict[str, Any]:
    last, previous = pair.value("last"), pair.value("open")
    last_d, previous_d = as_decimal(last), as_decimal(previous)
    change = f"{(last_d - previous_d) / previous_d:.4f}" if last_d is not None and previous_d else "0"
    return {
        "symbol": symbol_id(pair),
        "bid1Price": pair.value("bid"),
        "bid1Size": "1",
        "ask1Price": pair.value("ask"),
        "ask1Size": "1",
        "lastPrice": last,
        "prevPrice24h": previous,
        "price24hPcnt": change,
        "highPrice24h": pair.value("high"),
        "lowPrice24h": pair.value("low"),
        "turnover24h": pair.value("quote_volume"),
        "volume24h": pair.value("volume"),
        "usdIndexPrice": last,
    }


def _derivative_ticker(pair: Pair, *, inverse: bool) -> dict[str, Any]:
    row = _ticker(pair)
    row.update(
        {
            "symbol": pair.base + ("USD" if inverse else pair.quote),
            "indexPrice": pair.value("last"),
            "markPrice": pair.value("last"),
            "openInterest": "1000",
            "openInterestValue": "0",
            "fundingRate": "0.0001",
            "nextFundingTime": str(now_ms() + 3_600_000),
            "predictedDeliveryPrice": "",
            "basisRate": "",
            "deliveryFeeRate": "",
            "deliveryTime": "0",
            "basis": "",
        }
    )
    del row["usdIndexPrice"]
    return row


async def tickers(venue: Venue, request: web.Request) -> web.Response:
    category = request.query.get("category")
    if category == "spot":
        rows = [_ticker(p) for p in venue.pairs()]
    elif category == "linear":
        rows = [_derivative_ticker(p, inverse=False) for p in _derivative_pairs(venue, LINEAR_BASES)]
    elif category == "inverse":
        rows = [_derivative_ticker(p, inverse=True) for p in _derivative_pairs(venue, INVERSE_BASES)]
    elif category == "option":
        rows = []
    else:
        return fail(10001, "params error: category invalid")
    if "symbol" in request.query:
        rows = [r for r in rows if r["symbol"] == request.query["symbol"]]
        if not rows:
            return fail(10001, "Not supported symbols")
    return json_response(envelope({"category": category, "list": rows}))


async def server_time(_: Venue, __: web.Request) -> web.Response:
    moment = now()
    seconds = int(moment.timestamp())
    return json_response(envelope({"timeSecond": str(seconds), "timeNano": str(int(moment.timestamp() * 1e9))}))
