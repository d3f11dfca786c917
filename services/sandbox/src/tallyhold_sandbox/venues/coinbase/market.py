"""Coinbase public data: Advanced Trade `/api/v3/brokerage/market/*` (products, product ticker, time) and the
v2 currency lists and exchange rates ccxt's load_markets reads. Shapes from docs.cdp.coinbase.com ("List
Public Products", "Get Public Market Trades", Coinbase App "Currencies", "Exchange Rates") and ccxt samples."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import as_decimal
from tallyhold_sandbox.venues.base import Pair, Venue, json_response, now

FIAT_NAMES = {"USD": "US Dollar", "EUR": "Euro", "GBP": "British Pound"}


def product_id(pair: Pair) -> str:
    return f"{pair.base}-{pair.quote}"


def _iso(moment: Any = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _product(pair: Pair) -> dict[str, Any]:
    last, opening = as_decimal(pair.value("last")), as_decimal(pair.value("open"))
    change = f"{(last - opening) / opening * 100:.8f}" if last is not None and opening else "0"
    increment = "0.01" if last is not None and last >= 1 else "0.00001"
    return {
        "product_id": product_id(pair),
        "price": pair.value("last"),
        "price_percentage_change_24h": change,
        "volume_24h": pair.value("volume"),
        "volume_percentage_change_24h": "0",
        "base_increment": "0.00000001",
        "quote_increment": increment,
        "quote_min_size": "1",
        "quote_max_size": "150000000",
        "base_min_size": "0.00000001",
        "base_max_size": "3400",
        "base_name": pair.base,
        "quote_name": FIAT_NAMES.get(pair.quote, pair.quote),
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": pair.quote,
        "base_currency_id": pair.base,
        "fcm_trading_session_details": None,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": pair.base,
        "quote_display_symbol": pair.quote,
        "view_only": False,
        "price_increment": increment,
        "display_name": product_id(pair),
        "product_venue": "CBE",
        "approximate_quote_24h_volume": pair.value("quote_volume"),
    }


def products_document(venue: Venue, request: web.Request) -> dict[str, Any]:
    pairs = venue.pairs() if request.query.get("product_type", "SPOT") == "SPOT" else []
    wanted = request.query.getall("product_ids", [])
    if wanted:
        pairs = [p for p in pairs if product_id(p) in wanted]
    products = [_product(p) for p in pairs]
    return {"products": products, "num_products": len(products)}


async def products(venue: Venue, request: web.Request) -> web.Response:
    return json_response(products_document(venue, request))


def _pair(venue: Venue, request: web.Request) -> Pair | None:
    wanted = request.match_info["product_id"]
    return next((p for p in venue.pairs() if product_id(p) == wanted), None)


def not_found() -> web.Response:
    return json_response({"error": "NOT_FOUND", "error_details": "", "message": "ProductID is invalid"}, status=404)


async def product(venue: Venue, request: web.Request) -> web.Response:
    pair = _pair(venue, request)
    return not_found() if pair is None else json_response(_product(pair))


async def product_ticker(venue: Venue, request: web.Request) -> web.Response:
    pair = _pair(venue, request)
    if pair is None:
        return not_found()
    trade = {
        "trade_id": "518078013",
        "product_id": product_id(pair),
        "price": pair.value("last"),
        "size": "0.01",
        "time": _iso(),
        "side": "BUY",
        "exchange": "",
        "bid": "",
        "ask": "",
    }
    return json_response({"trades": [trade], "best_bid": pair.value("bid"), "best_ask": pair.value("ask")})


async def server_time(_: Venue, __: web.Request) -> web.Response:
    moment = now()
    seconds = moment.timestamp()
    return json_response(
        {"iso": _iso(moment), "epochSeconds": str(int(seconds)), "epochMillis": str(int(seconds * 1000))}
    )


def asset_uuid(code: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"coinbase-asset:{code}"))


def crypto_currency(code: str) -> dict[str, Any]:
    return {
        "asset_id": asset_uuid(code),
        "code": code,
        "name": code,
        "color": "#0052FF",
        "sort_index": 100,
        "exponent": 8,
        "type": "crypto",
        "address_regex": "^[0-9a-zA-Z]{26,64}$",
    }


async def fiat_currencies(venue: Venue, _: web.Request) -> web.Response:
    codes = [c for c in venue.assets() if c in FIAT_NAMES] or ["USD"]
    return json_response({"data": [{"id": c, "name": FIAT_NAMES[c], "min_size": "0.01"} for c in codes]})


async def crypto_currencies(venue: Venue, _: web.Request) -> web.Response:
    return json_response({"data": [crypto_currency(c) for c in venue.assets() if c not in FIAT_NAMES]})


async def exchange_rates(venue: Venue, request: web.Request) -> web.Response:
    base = request.query.get("currency", "USD")
    rates = {}
    for code in venue.assets():
        price = venue.price(code, base)
        if price is not None and price > 0:
            rates[code] = f"{Decimal(1) / price:.16f}".rstrip("0").rstrip(".")
    return json_response({"data": {"currency": base, "rates": rates}})
