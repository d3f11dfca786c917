"""Binance (ccxt id `binance`): spot `/api/v3`, wallet `/sapi/v1..v3`, USDⓈ-M `/fapi`, COIN-M `/dapi`, all on one
host (ccxt's api URLs differ only in host, so after the override their paths never collide)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from aiohttp import web

from tallyhold_sandbox.venues.base import AuthReason, Venue, json_response, now_ms
from tallyhold_sandbox.venues.binance import account, derivatives, earn, market
from tallyhold_sandbox.venues.defaults import tickers

Handler = Callable[[Venue, web.Request], Awaitable[web.Response]]

AUTH_ERRORS: dict[str, tuple[int, int, str]] = {
    "missing_key": (401, -2014, "API-key format invalid."),
    "unknown_key": (401, -2015, "Invalid API-key, IP, or permissions for action."),
    "expired": (401, -2015, "Invalid API-key, IP, or permissions for action."),
    "ip_denied": (401, -2015, "Invalid API-key, IP, or permissions for action."),
    "no_permission": (401, -2015, "Invalid API-key, IP, or permissions for action."),
    "bad_signature": (400, -1022, "Signature for this request is not valid."),
    "bad_timestamp": (400, -1021, "Timestamp for this request is outside of the recvWindow."),
    "bad_nonce": (400, -1021, "Timestamp for this request is outside of the recvWindow."),
    "bad_passphrase": (401, -2015, "Invalid API-key, IP, or permissions for action."),
}


# Request weights Binance publishes for the endpoints the sandbox serves (every other path weighs 1). Binance
# counts them against one budget per IP (6000 per minute on the spot API); the sandbox counts every path against
# that one budget when its per-IP limit is on, which is stricter than Binance (whose futures hosts have their own).
WEIGHTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/ticker/24hr"): 80,
    ("GET", "/api/v3/ticker/price"): 4,
    ("GET", "/api/v3/ticker/bookTicker"): 4,
    ("GET", "/sapi/v1/capital/config/getall"): 10,
    ("POST", "/sapi/v3/asset/getUserAsset"): 5,
    ("GET", "/sapi/v1/asset/wallet/balance"): 60,
    ("GET", "/sapi/v1/simple-earn/flexible/position"): 150,
    ("GET", "/sapi/v1/simple-earn/locked/position"): 150,
    ("GET", "/sapi/v1/margin/account"): 10,
    ("GET", "/sapi/v1/margin/isolated/account"): 10,
    ("GET", "/fapi/v2/balance"): 5,
}


class Binance(Venue):
    name: ClassVar[str] = "binance"
    wallets: ClassVar[tuple[str, ...]] = (
        "spot",
        "funding",
        "earn_flexible",
        "earn_locked",
        "staking",
        "margin",
        "usdm",
        "coinm",
    )
    borrowing_wallets: ClassVar[tuple[str, ...]] = ("margin",)
    default_tickers: ClassVar = tickers(
        "BTC/USDT",
        "ETH/USDT",
        "SOL/USDT",
        "BNB/USDT",
        "XRP/USDT",
        "ADA/USDT",
        "DOGE/USDT",
        "ETH/BTC",
        "BNB/BTC",
        "BTC/USDC",
        "ETH/USDC",
        "USDC/USDT",
        "BTC/EUR",
        "ETH/EUR",
        "EUR/USDT",
    )

    def api_key_of(self, request: web.Request) -> str | None:
        return request.headers.get("X-MBX-APIKEY")

    def auth_error(self, reason: AuthReason) -> web.Response:
        status, code, msg = AUTH_ERRORS[reason]
        return json_response({"code": code, "msg": msg}, status=status)

    def request_weight(self, method: str, path: str) -> int:
        return WEIGHTS.get((method, path), 1)

    def rate_limited(self, retry_after: int) -> web.Response:
        msg = (
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use the "
            "websocket for live updates to avoid polling the API."
        )
        return json_response({"code": -1003, "msg": msg}, status=429)

    def banned(self, retry_after: int) -> web.Response:
        until = now_ms() + retry_after * 1000
        msg = (
            f"Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live "
            "updates to avoid bans."
        )
        return json_response({"code": -1003, "msg": msg}, status=418)

    def server_error(self, status: int) -> web.Response:
        if status == 503:
            # Binance's documented 503 message; sent as text, as its gateway does.
            return web.Response(status=503, text="Service Unavailable.", content_type="text/plain")
        msg = "Internal error; unable to process your request. Please try again."
        return json_response({"code": -1001, "msg": msg}, status=status)

    def not_found(self, request: web.Request) -> web.Response:
        # Binance answers unknown paths with an empty-bodied 404.
        return web.Response(status=404, text="", content_type="text/html")

    def add_routes(self, router: web.UrlDispatcher) -> None:
        def route(method: str, path: str, handler: Handler) -> None:
            router.add_route(method, path, partial(handler, self))

        # public market data
        for prefix in ("/api/v3", "/fapi/v1", "/dapi/v1"):
            route("GET", prefix + "/ping", market.ping)
            route("GET", prefix + "/time", market.server_time)
        route("GET", "/api/v3/exchangeInfo", market.exchange_info)
        route("GET", "/fapi/v1/exchangeInfo", partial(market.futures_exchange_info, inverse=False))
        route("GET", "/dapi/v1/exchangeInfo", partial(market.futures_exchange_info, inverse=True))
        route("GET", "/api/v3/ticker/24hr", market.ticker_24hr)
        route("GET", "/api/v3/ticker/price", market.ticker_price)
        route("GET", "/api/v3/ticker/bookTicker", market.book_ticker)
        route("GET", "/sapi/v1/system/status", market.system_status)
        # the coin list and margin pairs (ccxt's load_markets calls these when it has keys)
        route("GET", "/sapi/v1/capital/config/getall", account.capital_config)
        route("GET", "/sapi/v1/margin/allPairs", derivatives.margin_all_pairs)
        route("GET", "/sapi/v1/margin/isolated/allPairs", derivatives.isolated_all_pairs)
        # wallets
        route("GET", "/api/v3/account", account.account)
        route("POST", "/sapi/v1/asset/get-funding-asset", account.funding_asset)
        route("POST", "/sapi/v3/asset/getUserAsset", account.user_asset)
        route("GET", "/sapi/v1/asset/wallet/balance", account.wallet_balance)
        route("GET", "/sapi/v1/simple-earn/account", earn.earn_account)
        route("GET", "/sapi/v1/simple-earn/flexible/position", earn.earn_flexible)
        route("GET", "/sapi/v1/simple-earn/locked/position", earn.earn_locked)
        route("GET", "/sapi/v1/lending/union/account", earn.lending_union_account)
        route("GET", "/sapi/v1/staking/position", earn.staking_position)
        route("GET", "/sapi/v1/margin/account", derivatives.margin_account)
        route("GET", "/sapi/v1/margin/isolated/account", derivatives.isolated_margin_account)
        route("GET", "/fapi/v2/account", derivatives.usdm_account)
        route("GET", "/fapi/v3/account", derivatives.usdm_account)
        route("GET", "/fapi/v2/balance", derivatives.usdm_balance)
        route("GET", "/fapi/v3/balance", derivatives.usdm_balance)
        route("GET", "/dapi/v1/account", derivatives.coinm_account)
        route("GET", "/dapi/v1/balance", derivatives.coinm_balance)
        # the key
        route("GET", "/sapi/v1/account/apiRestrictions", account.api_restrictions)
        route("GET", "/sapi/v1/account/apiRestrictions/ipRestriction", account.ip_restriction)
        route("GET", "/sapi/v1/account/status", account.account_status)
