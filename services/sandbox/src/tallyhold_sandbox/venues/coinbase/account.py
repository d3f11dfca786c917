"""Coinbase private endpoints for a CDP key (Advanced Trade v3 and the Coinbase App v2 accounts).

A CDP key belongs to one portfolio. Wallets (control names): `spot` (crypto and fiat accounts of the key's
Default portfolio), `vault` (ACCOUNT_TYPE_VAULT accounts of that portfolio: ccxt's fetch_balance skips them by
default) and `portfolio` (a second portfolio, "Long-term": listed by /portfolios and its breakdown, but its
accounts only appear in /accounts when `retail_portfolio_id` names it)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, Holding, add
from tallyhold_sandbox.venues.base import Venue, json_response
from tallyhold_sandbox.venues.coinbase.auth import authenticate
from tallyhold_sandbox.venues.coinbase.market import FIAT_NAMES, _iso, crypto_currency

# Neutral permission → key_permissions field.
FIELDS = {
    "read": "can_view",
    "trade": "can_trade",
    "margin": "can_trade",
    "futures": "can_trade",
    "options": "can_trade",
    "withdraw": "can_transfer",
    "transfer": "can_transfer",
}
UNKNOWN_FIELD = "can_stake"  # plausible, but on no checker's allowlist
PORTFOLIOS = {"default": ("Default", "DEFAULT"), "portfolio": ("Long-term", "CONSUMER")}


def portfolio_uuid(key: ApiKey, which: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"coinbase-portfolio:{key.api_key}:{which}"))


def account_uuid(key: ApiKey, wallet: str, code: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"coinbase-account:{key.api_key}:{wallet}:{code}"))


def _v3_account(key: ApiKey, wallet: str, code: str, holding: Holding) -> dict[str, Any]:
    kind = (
        "ACCOUNT_TYPE_VAULT"
        if wallet == "vault"
        else "ACCOUNT_TYPE_FIAT"
        if code in FIAT_NAMES
        else "ACCOUNT_TYPE_CRYPTO"
    )
    created = _iso(key.created_at)
    return {
        "uuid": account_uuid(key, wallet, code),
        "name": f"{code} Vault" if wallet == "vault" else f"{code} Wallet",
        "currency": code,
        "available_balance": {"value": holding.free, "currency": code},
        "default": wallet == "spot",
        "active": True,
        "created_at": created,
        "updated_at": created,
        "deleted_at": None,
        "type": kind,
        "ready": True,
        "hold": {"value": holding.locked, "currency": code},
        "retail_portfolio_id": portfolio_uuid(key, "portfolio" if wallet == "portfolio" else "default"),
        "platform": "ACCOUNT_PLATFORM_CONSUMER",
    }


def _all_accounts(key: ApiKey, wallets: tuple[str, ...]) -> list[dict[str, Any]]:
    return [_v3_account(key, w, c, h) for w in wallets for c, h in key.wallet(w).items()]


async def accounts(venue: Venue, request: web.Request) -> web.Response:
    key = authenticate(venue, request)
    portfolio = request.query.get("retail_portfolio_id")
    wallets = ("portfolio",) if portfolio == portfolio_uuid(key, "portfolio") else ("spot", "vault")
    rows = _all_accounts(key, wallets)
    limit = min(int(request.query.get("limit", "49") or 49), 250)
    start = int(request.query.get("cursor") or 0)
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    return json_response(
        {"accounts": page, "has_next": more, "cursor": str(start + limit) if more else "", "size": len(page)}
    )


async def account(venue: Venue, request: web.Request) -> web.Response:
    key = authenticate(venue, request)
    wanted = request.match_info["account_uuid"]
    for row in _all_accounts(key, ("spot", "vault", "portfolio")):
        if row["uuid"] == wanted:
            return json_response({"account": row})
    return json_response(
        {"error": "NOT_FOUND", "error_details": "account not found", "message": "account not found"}, status=404
    )


def _portfolio(key: ApiKey, which: str) -> dict[str, Any]:
    name, kind = PORTFOLIOS[which]
    return {"name": name, "uuid": portfolio_uuid(key, which), "type": kind, "deleted": False}


async def portfolios(venue: Venue, request: web.Request) -> web.Response:
    key = authenticate(venue, request)
    listed = [_portfolio(key, "default")]
    if key.wallet("portfolio"):
        listed.append(_portfolio(key, "portfolio"))
    return json_response({"portfolios": listed})


def _money(value: Any, currency: str = "USD") -> dict[str, Any]:
    return {"value": value, "currency": currency}


async def portfolio_breakdown(venue: Venue, request: web.Request) -> web.Response:
    key = authenticate(venue, request)
    which = next((w for w in PORTFOLIOS if portfolio_uuid(key, w) == request.match_info["portfolio_uuid"]), None)
    if which is None:
        return json_response({"error": "NOT_FOUND", "error_details": "", "message": "portfolio not found"}, status=404)
    wallets = ("portfolio",) if which == "portfolio" else ("spot", "vault")
    positions: list[dict[str, Any]] = []
    crypto_values: list[Any] = []
    cash_values: list[Any] = []
    for wallet in wallets:
        for code, holding in key.wallet(wallet).items():
            fiat = venue.value_in(holding.total, code, "USD", 2)
            (cash_values if code in FIAT_NAMES else crypto_values).append(fiat)
            positions.append(
                {
                    "asset": code,
                    "account_uuid": account_uuid(key, wallet, code),
                    "total_balance_fiat": float(fiat),
                    "total_balance_crypto": holding.total,
                    "available_to_trade_fiat": float(venue.value_in(holding.free, code, "USD", 2)),
                    "allocation": 0,
                    "cost_basis": _money("0"),
                    "asset_img_url": "",
                    "is_cash": code in FIAT_NAMES,
                    "average_entry_price": _money("0"),
                    "asset_uuid": crypto_currency(code)["asset_id"],
                    "available_to_trade_crypto": holding.free,
                    "unrealized_pnl": 0,
                    "available_to_transfer_fiat": float(venue.value_in(holding.free, code, "USD", 2)),
                    "available_to_transfer_crypto": holding.free,
                    "asset_color": "#0052FF",
                    "account_type": "ACCOUNT_TYPE_VAULT" if wallet == "vault" else "ACCOUNT_TYPE_CRYPTO",
                }
            )
    balances = {
        "total_balance": _money(add(*cash_values, *crypto_values, "0")),
        "total_futures_balance": _money("0"),
        "total_cash_equivalent_balance": _money(add(*cash_values, "0")),
        "total_crypto_balance": _money(add(*crypto_values, "0")),
        "futures_unrealized_pnl": _money("0"),
        "perp_unrealized_pnl": _money("0"),
    }
    return json_response(
        {
            "breakdown": {
                "portfolio": _portfolio(key, which),
                "portfolio_balances": balances,
                "spot_positions": positions,
                "perp_positions": [],
                "futures_positions": [],
            }
        }
    )


def key_permissions(key: ApiKey) -> dict[str, Any]:
    body: dict[str, Any] = {"can_view": False, "can_trade": False, "can_transfer": False}
    for permission in key.permissions:
        if permission in FIELDS:
            body[FIELDS[permission]] = True
    body["portfolio_uuid"] = portfolio_uuid(key, "default")
    body["portfolio_type"] = "DEFAULT"
    if "unknown" in key.permissions:
        body[UNKNOWN_FIELD] = True
    body.update(key.native_permissions)
    return body


async def permissions(venue: Venue, request: web.Request) -> web.Response:
    key = authenticate(venue, request, need=None)
    return json_response(key_permissions(key))


async def transaction_summary(venue: Venue, request: web.Request) -> web.Response:
    authenticate(venue, request)
    tier = {"pricing_tier": "Advanced 1", "usd_from": "0", "usd_to": "10000", "taker_fee_rate": "0.012",
            "maker_fee_rate": "0.006", "aop_from": "", "aop_to": ""}  # fmt: skip
    return json_response(
        {"total_volume": 0, "total_fees": 0, "fee_tier": tier, "margin_rate": None, "goods_and_services_tax": None,
         "advanced_trade_only_volume": 0, "advanced_trade_only_fees": 0, "coinbase_pro_volume": 0,
         "coinbase_pro_fees": 0, "total_balance": "", "has_promo_fee": False}
    )  # fmt: skip


async def v2_accounts(venue: Venue, request: web.Request) -> web.Response:
    """GET /v2/accounts (ccxt's fetch_balance with options.fetchBalance = "v2PrivateGetAccounts")."""
    key = authenticate(venue, request)
    rows = []
    for wallet in ("spot", "vault"):
        for code, holding in key.wallet(wallet).items():
            fiat = code in FIAT_NAMES
            kind = "vault" if wallet == "vault" else "fiat" if fiat else "wallet"
            currency = {"code": code, "name": FIAT_NAMES[code], "type": "fiat"} if fiat else crypto_currency(code)
            identifier = account_uuid(key, wallet, code)
            rows.append(
                {"id": identifier, "name": f"{code} {'Vault' if wallet == 'vault' else 'Wallet'}",
                 "primary": wallet == "spot", "type": kind, "currency": currency,
                 "balance": {"amount": holding.total, "currency": code}, "created_at": _iso(key.created_at),
                 "updated_at": _iso(key.created_at), "resource": "account",
                 "resource_path": f"/v2/accounts/{identifier}", "allow_deposits": True, "allow_withdrawals": True}
            )  # fmt: skip
    pagination = {
        "ending_before": None,
        "starting_after": None,
        "previous_ending_before": None,
        "next_starting_after": None,
        "limit": 250,
        "order": "desc",
        "previous_uri": None,
        "next_uri": None,
    }
    return json_response({"pagination": pagination, "data": rows})
