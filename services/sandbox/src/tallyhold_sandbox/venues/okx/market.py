"""OKX v5 public data: instruments (SPOT, SWAP; FUTURES and OPTION answer empty), tickers, time. Shapes from
www.okx.com/docs-v5 (Public data, Market data) and ccxt's okx.py samples."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import as_decimal
from tallyhold_sandbox.venues.base import Pair, Venue, json_response, now_ms

SWAP_BASES = ("BTC", "ETH", "SOL")


def ok(data: list[Any]) -> web.Response:
    return json_response({"code": "0", "msg": "", "data": data})


def fail(code: str, message: str, *, status: int = 200) -> web.Response:
    return json_response({"code": code, "msg": message, "data": []}, status=status)


def inst_id(pair: Pair) -> str:
    return f"{pair.base}-{pair.quote}"


def _tick(pair: Pair) -> str:
    last = as_decimal(pair.value("last"))
    return "0.1" if last is not None and last >= 1000 else "0.01" if last is not None and last >= 10 else "0.0001"


def _spot(pair: Pair) -> dict[str, Any]:
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": pair.base,
        "category": "1",
        "ctMult": "",
        "ctType": "",
        "ctVal": "",
        "ctValCcy": "",
        "expTime": "",
        "instFamily": "",
        "instId": inst_id(pair),
        "instType": "SPOT",
        "lever": "10",
        "listTime": "1548133413000",
        "lotSz": "0.00000001",
        "maxIcebergSz": "9999999999.0000000000000000",
        "maxLmtAmt": "1000000",
        "maxLmtSz": "9999999999",
        "maxMktAmt": "1000000",
        "maxMktSz": "1000000",
        "maxStopSz": "1000000",
        "maxTriggerSz": "9999999999",
        "maxTwapSz": "9999999999.0000000000000000",
        "minSz": "0.00001",
        "optType": "",
        "quoteCcy": pair.quote,
        "settleCcy": "",
        "state": "live",
        "ruleType": "normal",
        "stk": "",
        "tickSz": _tick(pair),
        "uly": "",
    }


def _swap(pair: Pair) -> dict[str, Any]:
    return {
        "alias": "",
        "baseCcy": "",
        "category": "1",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": "0.01" if pair.base == "BTC" else "0.1",
        "ctValCcy": pair.base,
        "expTime": "",
        "instFamily": inst_id(pair),
        "instId": inst_id(pair) + "-SWAP",
        "instType": "SWAP",
        "lever": "100",
        "listTime": "1573557408000",
        "lotSz": "0.01",
        "maxLmtSz": "100000000",
        "maxMktSz": "12000",
        "minSz": "0.01",
        "optType": "",
        "quoteCcy": "",
        "settleCcy": pair.quote,
        "state": "live",
        "ruleType": "normal",
        "stk": "",
        "tickSz": "0.1",
        "uly": inst_id(pair),
    }


def _swap_pairs(venue: Venue) -> list[Pair]:
    return [p for p in venue.pairs() if p.quote == "USDT" and p.base in SWAP_BASES]


async def instruments(venue: Venue, request: web.Request) -> web.Response:
    kind = request.query.get("instType")
    if kind == "SPOT":
        rows = [_spot(p) for p in venue.pairs()]
    elif kind == "SWAP":
        rows = [_swap(p) for p in _swap_pairs(venue)]
    elif kind in {"FUTURES", "OPTION", "MARGIN"}:
        rows = []
    else:
        return fail("51000", "Parameter instType error")
    if "instId" in request.query:
        rows = [r for r in rows if r["instId"] == request.query["instId"]]
    return ok(rows)


def _ticker(pair: Pair, kind: str, instrument: str) -> dict[str, Any]:
    return {
        "instType": kind,
        "instId": instrument,
        "last": pair.value("last"),
        "lastSz": "0.01",
        "askPx": pair.value("ask"),
        "askSz": "1",
        "bidPx": pair.value("bid"),
        "bidSz": "1",
        "open24h": pair.value("open"),
        "high24h": pair.value("high"),
        "low24h": pair.value("low"),
        "volCcy24h": pair.value("quote_volume"),
        "vol24h": pair.value("volume"),
        "sodUtc0": pair.value("open"),
        "sodUtc8": pair.value("open"),
        "ts": str(now_ms()),
    }


def _all_tickers(venue: Venue, kind: str | None) -> list[dict[str, Any]]:
    rows = []
    if kind in {None, "SPOT"}:
        rows += [_ticker(p, "SPOT", inst_id(p)) for p in venue.pairs()]
    if kind in {None, "SWAP"}:
        rows += [_ticker(p, "SWAP", inst_id(p) + "-SWAP") for p in _swap_pairs(venue)]
    return rows


async def tickers(venue: Venue, request: web.Request) -> web.Response:
    kind = request.query.get("instType")
    if kind not in {"SPOT", "SWAP", "FUTURES", "OPTION"}:
        return fail("51000", "Parameter instType error")
    return ok(_all_tickers(venue, kind))


async def ticker(venue: Venue, request: web.Request) -> web.Response:
    wanted = request.query.get("instId")
    rows = [r for r in _all_tickers(venue, None) if r["instId"] == wanted]
    if not rows:
        return fail("51001", "Instrument ID does not exist")
    return ok(rows)


async def server_time(_: Venue, __: web.Request) -> web.Response:
    return ok([{"ts": str(now_ms())}])
