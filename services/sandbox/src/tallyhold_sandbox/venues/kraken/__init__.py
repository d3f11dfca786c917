"""Kraken spot (ccxt id `kraken`): public `/0/public/*` (GET) and private `/0/private/*` (POST)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from aiohttp import web

from tallyhold_sandbox.venues.base import AuthReason, Venue, json_response
from tallyhold_sandbox.venues.defaults import tickers
from tallyhold_sandbox.venues.kraken import account, assets

Handler = Callable[[Venue, web.Request], Awaitable[web.Response]]

# Kraken answers authentication failures with HTTP 200 and an error array. A wrong secret is
# "EAPI:Invalid signature" (Kraken's "API error messages" support page); ccxt 4.5.90 has no entry for it.
AUTH_ERRORS: dict[str, str] = {
    "missing_key": "EAPI:Invalid key",
    "unknown_key": "EAPI:Invalid key",
    "expired": "EAPI:Invalid key",
    "bad_signature": "EAPI:Invalid signature",
    "bad_timestamp": "EAPI:Invalid nonce",
    "bad_nonce": "EAPI:Invalid nonce",
    "bad_passphrase": "EAPI:Invalid key",
    "ip_denied": "EGeneral:Permission denied",
    "no_permission": "EGeneral:Permission denied",
}


class Kraken(Venue):
    name: ClassVar[str] = "kraken"
    wallets: ClassVar[tuple[str, ...]] = account.WALLETS
    default_tickers: ClassVar = tickers(
        "BTC/USD", "ETH/USD", "SOL/USD", "DOT/USD", "ADA/USD", "XRP/USD", "DOGE/USD", "USDT/USD", "USDC/USD",
        "BTC/EUR", "ETH/EUR", "ETH/BTC", "EUR/USD",
    )  # fmt: skip

    def api_key_of(self, request: web.Request) -> str | None:
        return request.headers.get("API-Key")

    def auth_error(self, reason: AuthReason) -> web.Response:
        return account.error(AUTH_ERRORS[reason])

    def rate_limited(self, retry_after: int) -> web.Response:
        return json_response({"error": ["EAPI:Rate limit exceeded"]}, status=429)

    def banned(self, retry_after: int) -> web.Response:
        return account.error("EGeneral:Temporary lockout")

    def server_error(self, status: int) -> web.Response:
        message = "EService:Unavailable" if status == 503 else "EGeneral:Internal error"
        return json_response({"error": [message]}, status=status)

    def not_found(self, request: web.Request) -> web.Response:
        return json_response({"error": ["EGeneral:Unknown method"]}, status=404)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        def route(method: str, path: str, handler: Handler) -> None:
            router.add_route(method, path, partial(handler, self))

        route("GET", "/0/public/Time", assets.server_time)
        route("GET", "/0/public/SystemStatus", assets.system_status)
        route("GET", "/0/public/Assets", assets.assets)
        route("GET", "/0/public/AssetPairs", assets.asset_pairs)
        route("GET", "/0/public/Ticker", assets.ticker)
        private = {
            "Balance": account.balance,
            "BalanceEx": account.balance_ex,
            "TradeBalance": account.trade_balance,
            "Ledgers": account.ledgers,
            "QueryLedgers": account.query_ledgers,
            "Earn/Allocations": account.earn_allocations,
            "GetApiKeyInfo": account.api_key_info,
            "DepositStatus": account.deposit_status,
            "WithdrawStatus": account.withdraw_status,
            "WithdrawMethods": account.withdraw_methods,
        }
        for method, handler in private.items():
            route("POST", "/0/private/" + method, handler)
