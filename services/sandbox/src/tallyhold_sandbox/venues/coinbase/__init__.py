"""Coinbase Advanced Trade with CDP keys (ccxt id `coinbase`): `/api/v3/brokerage/*` and the `/v2/*` Coinbase
App endpoints ccxt uses, on one host (ccxt's `rest` URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from aiohttp import web

from tallyhold_sandbox.venues.base import AuthReason, Venue, json_response
from tallyhold_sandbox.venues.coinbase import account, market
from tallyhold_sandbox.venues.coinbase.auth import claimed_key
from tallyhold_sandbox.venues.defaults import tickers

Handler = Callable[[Venue, web.Request], Awaitable[web.Response]]
CLOUDFLARE_1015 = (
    "<!DOCTYPE html><html><head><title>Access denied | api.coinbase.com used Cloudflare to restrict access</title>"
    "</head><body><h1>Error 1015</h1><h2>You are being rate limited</h2></body></html>"
)


class Coinbase(Venue):
    name: ClassVar[str] = "coinbase"
    wallets: ClassVar[tuple[str, ...]] = ("spot", "vault", "portfolio")
    default_tickers: ClassVar = tickers(
        "BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "DOGE/USD", "ADA/USD", "DOT/USD", "USDT/USD", "BTC/EUR",
        "ETH/EUR", "ETH/BTC", "BTC/USDC", "ETH/USDC", "USDT/USDC",
    )  # fmt: skip

    def api_key_of(self, request: web.Request) -> str | None:
        return claimed_key(request)

    def auth_error(self, reason: AuthReason) -> web.Response:
        if reason == "no_permission":
            return json_response(
                {
                    "error": "PERMISSION_DENIED",
                    "error_details": "Missing required scopes",
                    "message": "Missing required scopes",
                },
                status=403,
            )
        # Advanced Trade answers every other authentication failure with a bare 401.
        return web.Response(status=401, text="Unauthorized\n", content_type="text/plain")

    def rate_limited(self, retry_after: int) -> web.Response:
        return json_response(
            {"error": "rate_limit_exceeded", "error_details": "Too many requests", "message": "Too many requests"},
            status=429,
        )

    def banned(self, retry_after: int) -> web.Response:
        # No documented ban; Cloudflare in front of api.coinbase.com answers abuse with error 1015.
        return web.Response(status=429, text=CLOUDFLARE_1015, content_type="text/html")

    def server_error(self, status: int) -> web.Response:
        text = "upstream connect error or disconnect/reset before headers" if status == 503 else "Internal Server Error"
        return web.Response(status=status, text=text, content_type="text/plain")

    def not_found(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="404 page not found\n", content_type="text/plain")

    def add_routes(self, router: web.UrlDispatcher) -> None:
        def route(method: str, path: str, handler: Handler) -> None:
            router.add_route(method, path, partial(handler, self))

        v3 = "/api/v3/brokerage"
        route("GET", v3 + "/time", market.server_time)
        route("GET", v3 + "/market/products", market.products)
        route("GET", v3 + "/market/products/{product_id}", market.product)
        route("GET", v3 + "/market/products/{product_id}/ticker", market.product_ticker)
        route("GET", "/v2/currencies", market.fiat_currencies)
        route("GET", "/v2/currencies/crypto", market.crypto_currencies)
        route("GET", "/v2/exchange-rates", market.exchange_rates)
        route("GET", v3 + "/key_permissions", account.permissions)
        route("GET", v3 + "/transaction_summary", account.transaction_summary)
        route("GET", v3 + "/accounts", account.accounts)
        route("GET", v3 + "/accounts/{account_uuid}", account.account)
        route("GET", v3 + "/portfolios", account.portfolios)
        route("GET", v3 + "/portfolios/{portfolio_uuid}", account.portfolio_breakdown)
        route("GET", "/v2/accounts", account.v2_accounts)
