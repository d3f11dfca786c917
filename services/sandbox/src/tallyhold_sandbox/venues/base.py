"""What every sandbox venue provides: its routes, where the API key sits in a request, and its own wire form
for errors (authentication failures, rate limits, bans, server errors)."""

from __future__ import annotations

import abc
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from aiohttp import web

from tallyhold_sandbox.state import ApiKey, VenueState, as_decimal

# Why a private request is refused; each venue answers each reason the way the real venue does.
AuthReason = Literal[
    "missing_key",  # no API key in the request
    "unknown_key",  # no such key
    "bad_signature",  # signature (or JWT) does not verify with the key's secret
    "bad_timestamp",  # timestamp outside the venue's window
    "bad_nonce",  # nonce not increasing (Kraken)
    "bad_passphrase",  # OKX passphrase mismatch
    "expired",  # the key's expiry has passed
    "ip_denied",  # the caller's IP is not on the key's allowlist
    "no_permission",  # the key lacks the permission the endpoint needs
]


class Reject(Exception):
    """Raised inside a handler: answer with `response` instead."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """JSON as the venues send it. `allow_nan` lets a planted NaN/Infinity reach the wire as a bare token."""
    return web.Response(
        text=json.dumps(data, allow_nan=True, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def same(a: str, b: str) -> bool:
    """Constant-time comparison, as a real venue does it."""
    return hmac.compare_digest(a.encode(), b.encode())


def now() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return int(now().timestamp() * 1000)


@dataclass(frozen=True)
class Pair:
    """A spot market known to a venue: unified base/quote codes and the ticker values."""

    base: str
    quote: str
    ticker: dict[str, Any]

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"

    def value(self, name: str) -> Any:
        """A ticker value; bid/ask/open/high/low default to `last`, volumes to fixed figures."""
        if name in self.ticker:
            return self.ticker[name]
        if name in {"bid", "ask", "open", "high", "low"}:
            return self.ticker.get("last", "0")
        return {"volume": "1000", "quote_volume": "0"}.get(name, "0")


class Venue(abc.ABC):
    name: ClassVar[str]
    wallets: ClassVar[tuple[str, ...]]
    borrowing_wallets: ClassVar[tuple[str, ...]] = ()  # wallets whose answer reports borrowed amounts
    default_tickers: ClassVar[dict[str, dict[str, Any]]]

    def __init__(self, state: VenueState) -> None:
        self.state = state

    @classmethod
    def new_state(cls) -> VenueState:
        return VenueState(cls.name, cls.wallets, cls.default_tickers, cls.borrowing_wallets)

    @abc.abstractmethod
    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the venue's real paths."""

    @abc.abstractmethod
    def api_key_of(self, request: web.Request) -> str | None:
        """The API key a request claims (unverified), for fault matching and the request log."""

    @abc.abstractmethod
    def auth_error(self, reason: AuthReason) -> web.Response:
        """The venue's answer to a refused private request."""

    def request_weight(self, method: str, path: str) -> int:
        """What one request costs against a per-IP weight limit (iplimit.py); venues with weights override."""
        return 1

    @abc.abstractmethod
    def rate_limited(self, retry_after: int) -> web.Response:
        """The venue's "too many requests" answer."""

    @abc.abstractmethod
    def banned(self, retry_after: int) -> web.Response:
        """The venue's answer once the caller is banned for a while."""

    @abc.abstractmethod
    def server_error(self, status: int) -> web.Response:
        """The venue's answer to an internal error or maintenance (`status` 5xx)."""

    @abc.abstractmethod
    def not_found(self, request: web.Request) -> web.Response:
        """The venue's answer for a path it does not serve."""

    # helpers for the venues -------------------------------------------------------------------------------
    def admit(self, key: ApiKey | None, request: web.Request, *, need: str | None = "read") -> ApiKey:
        """Checks every venue makes once the signature verified: expiry, IP allowlist, permission."""
        if key is None:
            raise Reject(self.auth_error("unknown_key"))
        if key.expired(now()):
            raise Reject(self.auth_error("expired"))
        if not key.ip_allowed(request.remote):
            raise Reject(self.auth_error("ip_denied"))
        if need is not None and not key.can(need):
            raise Reject(self.auth_error("no_permission"))
        return key

    def pairs(self) -> list[Pair]:
        pairs = []
        for symbol, ticker in self.state.ticker_items():
            base, quote = symbol.split("/")
            pairs.append(Pair(base, quote, ticker))
        return pairs

    def assets(self) -> list[str]:
        """Every asset code a market, or a balance of any key, mentions (for currency lists)."""
        codes: set[str] = set()
        for pair in self.pairs():
            codes.update((pair.base, pair.quote))
        with self.state.lock:
            for key in self.state.keys.values():
                for wallet in key.wallets.values():
                    codes.update(wallet)
        return sorted(codes)

    def price(self, asset: str, quote: str) -> Decimal | None:
        """`asset` in `quote` from the venue's own tickers: direct, inverse, or through one bridge asset."""
        if asset == quote:
            return Decimal(1)
        table: dict[tuple[str, str], Decimal] = {}
        for pair in self.pairs():
            last = as_decimal(pair.value("last"))
            if last is not None and last > 0:
                table[(pair.base, pair.quote)] = last
                table[(pair.quote, pair.base)] = 1 / last
        if (asset, quote) in table:
            return table[(asset, quote)]
        for (a, bridge), first in table.items():
            if a == asset and (bridge, quote) in table:
                return first * table[(bridge, quote)]
        return None

    def value_in(self, amount: Any, asset: str, quote: str, places: int = 8) -> str:
        """A raw amount valued in `quote` (fixed-point), "0" when either side is not a number."""
        number, rate = as_decimal(amount), self.price(asset, quote)
        if number is None or rate is None:
            return f"{Decimal(0):.{places}f}"
        return f"{number * rate:.{places}f}"
