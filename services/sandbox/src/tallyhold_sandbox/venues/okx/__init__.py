"""OKX v5 (ccxt id `okx`): everything under `/api/v5` on one host (ccxt's `rest` URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import ClassVar

from aiohttp import web

from tallyhold_sandbox.venues.base import AuthReason, Venue
from tallyhold_sandbox.venues.defaults import tickers
from tallyhold_sandbox.venues.okx import account, market

Handler = Callable[[Venue, web.Request], Awaitable[web.Response]]

# code, message, HTTP status (OKX answers authentication failures with 401).
AUTH_ERRORS: dict[str, tuple[str, str, int]] = {
    "missing_key": ("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401),
    "unknown_key": ("50111", "Invalid OK-ACCESS-KEY.", 401),
    "expired": ("50111", "Invalid OK-ACCESS-KEY.", 401),
    "bad_signature": ("50113", "Invalid Sign.", 401),
    "bad_timestamp": ("50102", "Timestamp request expired.", 401),
    "bad_nonce": ("50102", "Timestamp request expired.", 401),
    "bad_passphrase": ("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401),
    "ip_denied": ("50110", "Your IP is not included in your API key's IP whitelist.", 401),
    "no_permission": ("50120", "API key doesn't have permission.", 401),
}


class Okx(Venue):
    name: ClassVar[str] = "okx"
    wallets: ClassVar[tuple[str, ...]] = ("trading", "funding", "savings", "staking")
    borrowing_wallets: ClassVar[tuple[str, ...]] = ("trading",)  # multi-currency / portfolio margin borrowing
    default_tickers: ClassVar = tickers(
        "BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT", "ADA/USDT", "DOT/USDT", "ETH/BTC",
        "BTC/USDC", "ETH/USDC", "USDC/USDT", "BTC/EUR", "USDT/EUR",
    )  # fmt: skip

    def api_key_of(self, request: web.Request) -> str | None:
        return request.headers.get("OK-ACCESS-KEY")

    def auth_error(self, reason: AuthReason) -> web.Response:
        code, message, status = AUTH_ERRORS[reason]
        return market.fail(code, message, status=status)

    def rate_limited(self, retry_after: int) -> web.Response:
        return market.fail("50011", "Too Many Requests", status=429)

    def banned(self, retry_after: int) -> web.Response:
        # OKX documents no ban answer; the sandbox sends a bare 418 (ccxt: DDoSProtection).
        return web.Response(status=418, text="", content_type="text/plain")

    def server_error(self, status: int) -> web.Response:
        if status == 503:
            return market.fail("50001", "Service temporarily unavailable. Please try again later.", status=503)
        return market.fail("50026", "System error. Try again later.", status=status)

    def not_found(self, request: web.Request) -> web.Response:
        return web.Response(status=404, text="Not Found", content_type="text/plain")

    def add_routes(self, router: web.UrlDispatcher) -> None:
        def route(method: str, path: str, handler: Handler) -> None:
            router.add_route(method, "/api/v5/" + path, partial(handler, self))

        route("GET", "public/time", market.server_time)
        route("GET", "public/instruments", market.instruments)
        route("GET", "market/tickers", market.tickers)
        route("GET", "market/ticker", market.ticker)
        route("GET", "account/config", account.config)
        route("GET", "account/balance", account.trading_balance)
        route("GET", "asset/balances", account.funding_balances)
        route("GET", "asset/asset-valuation", account.asset_valuation)
        route("GET", "asset/currencies", account.currencies)
        route("GET", "finance/savings/balance", account.savings_balance)
        route("GET", "finance/staking-defi/orders-active", account.staking_orders)
