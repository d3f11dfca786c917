"""Kraken private endpoints (POST /0/private/<Method>, form body with a strictly increasing `nonce`).

Authentication as docs.kraken.com "Spot REST Authentication": `API-Key` header, and `API-Sign` =
base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + POST data))). Errors come back as HTTP 200
with `{"error": ["EAPI:Invalid key"]}` and the like. Each endpoint needs the permission Kraken documents
("Query Funds" for balances, "Query Ledger Entries" for the ledger, "Deposit/Withdraw Funds" for their status).

Wallets (control names): spot, staked (.S), rewards (.M), flexible (.F), bonded (.B)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, add, as_decimal, fixed, plain
from tallyhold_sandbox.venues.base import Reject, Venue, json_response, now, same
from tallyhold_sandbox.venues.kraken.assets import SUFFIXES, asset_id, balance_id

# Neutral permission → Kraken's permission strings (GetApiKeyInfo `permissions`).
STRINGS: dict[str, tuple[str, ...]] = {
    "read": ("query-funds", "query-open-trades", "query-closed-trades", "query-ledger"),
    "trade": ("modify-trades", "cancel-trades"),
    "margin": ("modify-trades",),
    "futures": ("modify-trades",),
    "options": ("modify-trades",),
    "withdraw": ("withdraw-funds",),
    "transfer": ("deposit-funds", "earn-funds"),
    "unknown": ("manage-custody",),  # plausible, but on no checker's allowlist
}
WALLETS = ("spot", *SUFFIXES)


def error(*messages: str) -> web.Response:
    return json_response({"error": list(messages)})


def permission_strings(key: ApiKey) -> list[str]:
    native = key.native_permissions.get("permissions")
    if isinstance(native, list):
        return [str(p) for p in native]
    strings: list[str] = []
    for permission in ("read", "trade", "margin", "futures", "options", "withdraw", "transfer", "unknown"):
        if permission in key.permissions:
            strings.extend(s for s in STRINGS[permission] if s not in strings)
    return strings


async def private(venue: Venue, request: web.Request, need: str | None) -> tuple[ApiKey, dict[str, str]]:
    api_key = request.headers.get("API-Key")
    key = venue.state.find_key(api_key)
    if key is None:
        raise Reject(venue.auth_error("unknown_key"))
    raw = await request.read()
    if request.content_type == "application/json":
        try:
            decoded = json.loads(raw or b"{}")
        except ValueError:
            raise Reject(error("EGeneral:Invalid arguments")) from None
        params = {str(k): str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else {}
    else:
        params = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    nonce = params.get("nonce", "")
    try:
        secret = base64.b64decode(key.secret, validate=True)
    except (binascii.Error, ValueError):
        raise Reject(venue.auth_error("bad_signature")) from None
    digest = hashlib.sha256(nonce.encode() + raw).digest()
    expected = base64.b64encode(hmac.new(secret, request.path.encode() + digest, hashlib.sha512).digest()).decode()
    if not same(request.headers.get("API-Sign", ""), expected):
        raise Reject(venue.auth_error("bad_signature"))
    with venue.state.lock:
        if not nonce.isdigit() or int(nonce) <= key.last_nonce:
            raise Reject(venue.auth_error("bad_nonce"))
        key.last_nonce = int(nonce)
    venue.admit(key, request, need=None)
    if need is not None and need not in permission_strings(key):
        raise Reject(venue.auth_error("no_permission"))
    return key, params


def kraken_balances(key: ApiKey) -> dict[str, tuple[Any, Any]]:
    """Kraken id → (balance, hold_trade) over every wallet, as the balance maps list them."""
    result: dict[str, tuple[Any, Any]] = {}
    for wallet in WALLETS:
        for code, holding in key.wallet(wallet).items():
            kraken_id = balance_id(wallet, code)
            total, hold = result.get(kraken_id, ("0", "0"))
            # Two wallets can name one Kraken asset (spot "ETH2.S" and staked ETH): Kraken shows one sum.
            result[kraken_id] = (add(total, holding.total), add(hold, holding.locked))
    return result


def _amount(value: Any) -> Any:
    return fixed(value, 10)


async def balance(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await private(venue, request, "query-funds")
    return json_response({"error": [], "result": {k: _amount(total) for k, (total, _) in kraken_balances(key).items()}})


async def balance_ex(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await private(venue, request, "query-funds")
    result = {
        k: {"balance": _amount(total), "hold_trade": fixed(hold, 4)}
        for k, (total, hold) in kraken_balances(key).items()
    }
    return json_response({"error": [], "result": result})


async def trade_balance(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request, "query-funds")
    quote = {"ZUSD": "USD", "ZEUR": "EUR", "XXBT": "BTC"}.get(params.get("asset", "ZUSD"), "USD")
    values = [venue.value_in(h.total, code, quote, 4) for code, h in key.wallet("spot").items()]
    equivalent = fixed(add(*values, "0"), 4)
    zero = "0.0000"
    return json_response(
        {
            "error": [],
            "result": {"eb": equivalent, "tb": equivalent, "m": zero, "n": zero, "c": zero, "v": zero,
                       "e": equivalent, "mf": equivalent, "uv": zero},
        }
    )  # fmt: skip


def _ledger_id(key: ApiKey, index: int, prefix: str = "L") -> str:
    text = base64.b32encode(hashlib.sha256(f"{key.api_key}|{index}|{prefix}".encode()).digest()).decode()
    return f"{prefix}{text[:5]}-{text[5:10]}-{text[10:16]}"


def ledger_entries(key: ApiKey) -> list[tuple[str, dict[str, Any]]]:
    """The key's ledger, oldest first: the planted `ledger`, or one entry per holding (a deposit into spot,
    a transfer into an earn wallet), with running balances per asset."""
    start = int(key.created_at.timestamp())
    planted = key.ledger
    if planted is None:
        planted = []
        for wallet in WALLETS:
            for code, holding in key.wallet(wallet).items():
                kind = "deposit" if wallet == "spot" else "transfer"
                subtype = "" if wallet == "spot" else "spottostaking"
                planted.append({"asset": balance_id(wallet, code), "amount": holding.total, "type": kind,
                                "subtype": subtype})  # fmt: skip
    running: dict[str, Decimal] = {}
    entries = []
    for index, raw in enumerate(planted):
        asset = str(raw.get("asset", ""))
        asset = asset_id(asset) if asset.isalpha() and asset.isupper() else asset
        amount = raw.get("amount", "0")
        fee = raw.get("fee", "0")
        number, fee_number = as_decimal(amount), as_decimal(fee) or Decimal(0)
        if number is not None:
            running[asset] = running.get(asset, Decimal(0)) + number - fee_number
        entry = {
            "refid": _ledger_id(key, index, "R"),
            "time": float(raw.get("time", start + index)),
            "type": raw.get("type", "deposit"),
            "subtype": raw.get("subtype", ""),
            "aclass": "currency",
            "asset": asset,
            "amount": _amount(amount),
            "fee": _amount(fee),
            "balance": _amount(plain(running.get(asset, Decimal(0)))),
        }
        entries.append((_ledger_id(key, index), entry))
    return entries


async def ledgers(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request, "query-ledger")
    entries = list(reversed(ledger_entries(key)))  # newest first, as Kraken lists them
    if params.get("asset", "all") != "all":
        wanted = {asset_id(a) if a.isalpha() else a for a in params["asset"].split(",")}
        entries = [(i, e) for i, e in entries if e["asset"] in wanted]
    if params.get("type", "all") != "all":
        entries = [(i, e) for i, e in entries if e["type"] == params["type"]]
    if "start" in params:
        entries = [(i, e) for i, e in entries if e["time"] > float(params["start"])]
    if "end" in params:
        entries = [(i, e) for i, e in entries if e["time"] <= float(params["end"])]
    offset = int(params.get("ofs", "0") or 0)
    page = dict(entries[offset : offset + 50])
    result: dict[str, Any] = {"ledger": page}
    if params.get("without_count", "false") != "true":
        result["count"] = len(entries)
    return json_response({"error": [], "result": result})


async def query_ledgers(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request, "query-ledger")
    wanted = set(params.get("id", "").split(","))
    return json_response({"error": [], "result": {i: e for i, e in ledger_entries(key) if i in wanted}})


async def earn_allocations(venue: Venue, request: web.Request) -> web.Response:
    key, params = await private(venue, request, "query-funds")
    converted = params.get("converted_asset", "USD")
    items: list[dict[str, Any]] = []
    total_value: list[Any] = []
    for wallet in SUFFIXES:
        for code, holding in key.wallet(wallet).items():
            value = venue.value_in(holding.total, code, converted, 4)
            total_value.append(value)
            state = "bonding" if wallet == "bonded" else None
            allocated: dict[str, Any] = {"total": {"native": _amount(holding.total), "converted": value}}
            if state is not None:
                allocated[state] = {"native": _amount(holding.total), "converted": value, "allocation_count": 1,
                                    "allocations": []}  # fmt: skip
            items.append(
                {"strategy_id": _ledger_id(key, len(items), "E"), "native_asset": code, "amount_allocated": allocated,
                 "total_rewarded": {"native": "0", "converted": "0.0000"}}
            )  # fmt: skip
    return json_response(
        {"error": [], "result": {"converted_asset": converted, "total_allocated": fixed(add(*total_value, "0"), 4),
                                 "total_rewarded": "0.0000", "next_cursor": None, "items": items}}
    )  # fmt: skip


async def api_key_info(venue: Venue, request: web.Request) -> web.Response:
    key, _ = await private(venue, request, None)
    modified = int(key.created_at.timestamp())
    result: dict[str, Any] = {
        "apiKeyName": key.label,
        "apiKey": key.api_key[:5] + "...",
        "nonce": str(key.last_nonce),
        "nonceWindow": 0,
        "permissions": permission_strings(key),
        "iban": "AA88 N84G WOAK NMOI",
        "validUntil": str(int(key.expires_at.timestamp())) if key.expires_at else "0",
        "queryFrom": "0",
        "queryTo": "0",
        "createdTime": str(modified),
        "modifiedTime": str(modified),
        "ipAllowlist": list(key.ip_allowlist),
        "lastUsed": str(int(now().timestamp())),
    }
    result.update({k: v for k, v in key.native_permissions.items() if k != "permissions"})
    return json_response({"error": [], "result": result})


async def deposit_status(venue: Venue, request: web.Request) -> web.Response:
    await private(venue, request, "deposit-funds")
    return json_response({"error": [], "result": []})


async def withdraw_status(venue: Venue, request: web.Request) -> web.Response:
    await private(venue, request, "withdraw-funds")
    return json_response({"error": [], "result": []})


async def withdraw_methods(venue: Venue, request: web.Request) -> web.Response:
    await private(venue, request, "withdraw-funds")
    return json_response({"error": [], "result": []})
