"""Kraken's asset and pair naming, and its public market data (Assets, AssetPairs, Ticker).

Kraken names its oldest assets with X (crypto) / Z (fiat) prefixes and its own codes (XXBT, XETH, ZUSD,
XXDG); newer assets use their plain code (SOL, DOT, USDC). Earn balances carry a suffix on the altname:
`.S` staked, `.M` opt-in rewards, `.F` flexible (auto-earn), `.B` bonded; staked ether is `ETH2.S`.
docs.kraken.com "Get Asset Info", "Get Tradable Asset Pairs", "Get Ticker Information"."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import as_decimal
from tallyhold_sandbox.venues.base import Pair, Reject, Venue, json_response, now

# unified code → (Kraken asset id, altname)
LEGACY: dict[str, tuple[str, str]] = {
    "BTC": ("XXBT", "XBT"),
    "ETH": ("XETH", "ETH"),
    "XRP": ("XXRP", "XRP"),
    "DOGE": ("XXDG", "XDG"),
    "LTC": ("XLTC", "LTC"),
    "XLM": ("XXLM", "XLM"),
    "USD": ("ZUSD", "USD"),
    "EUR": ("ZEUR", "EUR"),
    "GBP": ("ZGBP", "GBP"),
}
FIAT = frozenset({"USD", "EUR", "GBP"})
# control wallet → suffix Kraken puts on the altname
SUFFIXES = {"staked": ".S", "rewards": ".M", "flexible": ".F", "bonded": ".B"}
SUFFIX_ALTNAMES = {("ETH", ".S"): "ETH2"}


def asset_id(code: str) -> str:
    return LEGACY.get(code, (code, code))[0]


def altname(code: str) -> str:
    return LEGACY.get(code, (code, code))[1]


def balance_id(wallet: str, code: str) -> str:
    """The id a holding has in Kraken's balance maps. In `spot`, a code that is not a unified code passes
    through, so raw Kraken ids ("ETH2.S", "XBT.M", "USD.HOLD") can be planted directly."""
    if wallet == "spot":
        return asset_id(code)
    suffix = SUFFIXES[wallet]
    return SUFFIX_ALTNAMES.get((code, suffix), altname(code)) + suffix


def pair_id(pair: Pair) -> str:
    base, quote = asset_id(pair.base), asset_id(pair.quote)
    if base in {v[0] for v in LEGACY.values()} and quote in {v[0] for v in LEGACY.values()}:
        return base + quote  # XXBTZUSD, XETHXXBT, ZEURZUSD
    return altname(pair.base) + altname(pair.quote)  # SOLUSD, USDCEUR


def pair_altname(pair: Pair) -> str:
    return altname(pair.base) + altname(pair.quote)


def _decimals(code: str) -> tuple[int, int]:
    return (4, 2) if code in FIAT else (10, 5)


def _asset_entry(kraken_id: str, alt: str, code: str) -> dict[str, Any]:
    decimals, display = _decimals(code)
    return {
        "aclass": "currency",
        "altname": alt,
        "decimals": decimals,
        "display_decimals": display,
        "collateral_value": 1.0,
        "status": "enabled",
    }


async def assets(venue: Venue, request: web.Request) -> web.Response:
    result: dict[str, Any] = {}
    codes = set(venue.assets())
    for code in sorted(codes):
        result[asset_id(code)] = _asset_entry(asset_id(code), altname(code), code)
        for wallet in SUFFIXES:
            suffixed = balance_id(wallet, code)
            result[suffixed] = _asset_entry(suffixed, suffixed, code)
    wanted = request.query.get("asset")
    if wanted:
        names = set(wanted.split(","))
        result = {k: v for k, v in result.items() if k in names or v["altname"] in names}
        if not result:
            raise Reject(json_response({"error": ["EQuery:Unknown asset"]}))
    return json_response({"error": [], "result": result})


def _pair_entry(pair: Pair) -> dict[str, Any]:
    last = as_decimal(pair.value("last"))
    pair_decimals = 1 if last is not None and last >= 1000 else 2 if last is not None and last >= 10 else 5
    fees = [[0, 0.4], [10000, 0.35], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18]]
    fees_maker = [[0, 0.25], [10000, 0.2], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08]]
    return {
        "altname": pair_altname(pair),
        "wsname": f"{altname(pair.base)}/{altname(pair.quote)}",
        "aclass_base": "currency",
        "base": asset_id(pair.base),
        "aclass_quote": "currency",
        "quote": asset_id(pair.quote),
        "lot": "unit",
        "cost_decimals": 5,
        "pair_decimals": pair_decimals,
        "lot_decimals": 8,
        "lot_multiplier": 1,
        "leverage_buy": [2, 3, 4, 5],
        "leverage_sell": [2, 3, 4, 5],
        "fees": fees,
        "fees_maker": fees_maker,
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": "0.0001",
        "costmin": "0.5",
        "tick_size": f"{1 / 10**pair_decimals:.{pair_decimals}f}",
        "status": "online",
        "long_position_limit": 270,
        "short_position_limit": 180,
    }


def _select(venue: Venue, request: web.Request) -> list[Pair]:
    pairs = venue.pairs()
    wanted = request.query.get("pair")
    if not wanted:
        return pairs
    chosen = []
    for name in wanted.split(","):
        match = [p for p in pairs if name in {pair_id(p), pair_altname(p)}]
        if not match:
            raise Reject(json_response({"error": ["EQuery:Unknown asset pair"]}))
        chosen.extend(match)
    return chosen


async def asset_pairs(venue: Venue, request: web.Request) -> web.Response:
    return json_response({"error": [], "result": {pair_id(p): _pair_entry(p) for p in _select(venue, request)}})


def _ticker(pair: Pair) -> dict[str, Any]:
    volume = pair.value("volume")
    return {
        "a": [pair.value("ask"), "1", "1.000"],
        "b": [pair.value("bid"), "1", "1.000"],
        "c": [pair.value("last"), "0.01000000"],
        "v": [volume, volume],
        "p": [pair.value("last"), pair.value("last")],
        "t": [1000, 1000],
        "l": [pair.value("low"), pair.value("low")],
        "h": [pair.value("high"), pair.value("high")],
        "o": pair.value("open"),
    }


async def ticker(venue: Venue, request: web.Request) -> web.Response:
    return json_response({"error": [], "result": {pair_id(p): _ticker(p) for p in _select(venue, request)}})


async def server_time(_: Venue, __: web.Request) -> web.Response:
    moment = now()
    return json_response(
        {
            "error": [],
            "result": {"unixtime": int(moment.timestamp()), "rfc1123": moment.strftime("%a, %d %b %y %H:%M:%S +0000")},
        }
    )


async def system_status(_: Venue, __: web.Request) -> web.Response:
    return json_response(
        {"error": [], "result": {"status": "online", "timestamp": now().strftime("%Y-%m-%dT%H:%M:%SZ")}}
    )
