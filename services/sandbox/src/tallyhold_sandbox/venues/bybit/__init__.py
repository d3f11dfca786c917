"""Bybit v5 (ccxt id `bybit`), a Unified Trading Account: `/v5/market/*` public, `/v5/...` private."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from aiohttp import web

from tallyhold_sandbox.venues.base import AuthReason, Venue, json_response, now_ms
from tallyhold_sandbox.venues.bybit import account, market
from tallyhold_sandbox.venues.defaults import tickers

Handler = Callable[[Venue, web.Request], Awaitable[web.Response]]

# retCode, message, HTTP status (Bybit sends 401 for a bad key or signature, 200 with a retCode otherwise).
AUTH_ERRORS: dict[str, tuple[int, str, int]] = {
    "missing_key": (10003, "API key is invalid.", 401),
    "unknown_key": (10003, "API key is invalid.", 401),
    "bad_signature": (10004, "error sign! origin_string[...]", 401),
    "bad_timestamp": (10002, "invalid request, please check your server timestamp or recv_window param", 200),
    "bad_nonce": (10002, "invalid request, please check your server timestamp or recv_window param", 200),
    "bad_passphrase": (10003, "API key is invalid.", 401),
    "expired": (33004, "Your api key has expired.", 200),
    "ip_denied": (10010, "Unmatched IP, please check your API key's bound IP addresses.", 200),
    "no_permission": (10005, "Permission denied, please check your API key permissions.", 200),
}


class Bybit(Venue):
    name: ClassVar[str] = "bybit"
    wallets: ClassVar[tuple[str, ...]] = ("unified", "fund", "earn_flexible", "earn_onchain")
    borrowing_wallets: ClassVar[tuple[str, ...]] = ("unified",)  # UTA spot-margin borrowing
    default_tickers: ClassVar = tickers(
        "BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT", "ADA/USDT", "DOT/USDT", "ETH/BTC",
        "BTC/USDC", "ETH/USDC", "USDC/USDT", "BTC/EUR", "USDT/EUR",
    )  # fmt: skip

    def api_key_of(self, request: web.Request) -> str | None:
        return request.headers.get("X-BAPI-API-KEY")

    def auth_error(self, reason: AuthReason) -> web.Response:
        code, message, status = AUTH_ERRORS[reason]
        return market.fail(code, message, status=status)

    def rate_limited(self, retry_after: int) -> web.Response:
        response = market.fail(10006, "Too many visits!")
        reset = now_ms() + retry_after * 1000
        response.headers.update(
            {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": str(reset)}
        )
        return response

    def banned(self, retry_after: int) -> web.Response:
        # The IP limit: "403 Forbidden, access too frequent", lifted after 10 minutes (v5 "Rate Limit" page).
        return web.Response(status=403, text="access too frequent", content_type="text/plain")

    def server_error(self, status: int) -> web.Response:
        text = "Service Unavailable" if status == 503 else "Internal Server Error"
        return web.Response(status=status, text=text, content_type="text/plain")

    def not_found(self, request: web.Request) -> web.Response:
        return json_response(
            {"retCode": 10001, "retMsg": "Not found", "result": {}, "retExtInfo": {}, "time": now_ms()}, status=404
        )

    def add_routes(self, router: web.UrlDispatcher) -> None:
        def route(method: str, path: str, handler: Handler) -> None:
            router.add_route(method, path, partial(handler, self))

        route("GET", "/v5/market/time", market.server_time)
        route("GET", "/v5/market/instruments-info", market.instruments)
        route("GET", "/v5/market/tickers", market.tickers)
        route("GET", "/v5/user/query-api", account.query_api)
        route("GET", "/v5/account/info", account.account_info)
        route("GET", "/v5/account/wallet-balance", account.wallet_balance)
        route("GET", "/v5/asset/transfer/query-account-coins-balance", account.account_coins_balance)
        route("GET", "/v5/asset/coin/query-info", account.coin_info)
        route("GET", "/v5/earn/position", account.earn_position)
