"""`prices.tickers`, run by the egress worker: public tickers from the price venues, in order of preference.

Only public endpoints are called (no key is ever given to these exchange objects). ccxt is imported inside the
handler, so neither the API process nor anything that imports this module for its models pays for it.
A venue that fails is reported by code in `failures` and the next venue is asked; venues after the first are
only asked for what the earlier ones could not price.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from tallyhold.egress.protocol import EgressConfig
from tallyhold.prices.conversion import resolve
from tallyhold.prices.wire import Ticker, TickersReply, TickersRequest, VenueFailure

logger = logging.getLogger("tallyhold.prices")
# Per venue: keep market loading to spot markets (Binance otherwise also asks its futures and margin APIs).
VENUE_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "defaultType": "spot"},
}
MAX_SINGLE_TICKERS = 60  # venues without a batch ticker endpoint: one request per market, bounded


def point_at(exchange: Any, base: str) -> None:
    """EXCHANGE_API_OVERRIDES: every API URL of the exchange keeps its path, with `base`'s scheme and host."""

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            parts = urlsplit(value)
            return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        if isinstance(value, dict):
            return {key: rewrite(item) for key, item in value.items()}
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])


class _StatusRecorder:
    """Keeps the HTTP status and Retry-After of the last answer, through ccxt's own response hook, so a 418
    ban is told apart from a 429 whatever exception class the venue's error mapping picked."""

    def __init__(self, exchange: Any) -> None:
        self.status: int | None = None
        self.retry_after: float | None = None
        original = exchange.on_rest_response

        def hook(code: Any, reason: Any, url: Any, method: Any, headers: Any, body: Any, *rest: Any) -> Any:
            self.status = int(code) if code is not None else None
            self.retry_after = _retry_after(headers)
            return original(code, reason, url, method, headers, body, *rest)

        exchange.on_rest_response = hook


def _retry_after(headers: Any) -> float | None:
    if not isinstance(headers, dict):
        return None
    for key, value in headers.items():
        if str(key).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if seconds >= 0 else None
    return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))  # ccxt parses JSON numbers to float; str() gives back the short decimal
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def _price(ticker: dict[str, Any]) -> Decimal | None:
    last = _decimal(ticker.get("last")) or _decimal(ticker.get("close"))
    if last is not None:
        return last
    bid, ask = _decimal(ticker.get("bid")), _decimal(ticker.get("ask"))
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    return None


def _time(ticker: dict[str, Any], fetched_at: datetime) -> datetime:
    stamp = ticker.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool) and stamp > 0:
        moment = datetime.fromtimestamp(stamp / 1000, UTC)
        # A venue clock ahead of ours must not make a price look fresher than the moment we fetched it.
        return min(moment, fetched_at)
    return fetched_at


async def fetch_tickers(request: TickersRequest, config: EgressConfig) -> TickersReply:
    import ccxt.async_support as ccxt  # here, not at module level: only the worker pays for ccxt

    # ccxt's throttle stays on against real venues; tests against the sandbox turn it off (EGRESS_OPTIONS).
    rate_limit = bool((config.options.get("prices") or {}).get("rate_limit", True))
    wanted = {*request.assets, *request.bridges, request.quote}
    tickers: list[Ticker] = []
    failures: list[VenueFailure] = []
    for venue in request.venues:
        pending = set(request.assets) - set(resolve(tickers, request.assets, request.quote, request.venues))
        if not pending:
            break
        exchange_class = getattr(ccxt, venue, None)
        if venue not in ccxt.exchanges or exchange_class is None:
            failures.append(VenueFailure(venue=venue, code="unsupported_venue"))
            continue
        exchange = exchange_class(
            {
                "enableRateLimit": rate_limit,
                "timeout": int(request.timeout_seconds * 1000),
                "options": dict(VENUE_OPTIONS.get(venue, {})),
            }
        )
        override = config.exchange_api_overrides.get(venue)
        if override:
            point_at(exchange, override)
        recorder = _StatusRecorder(exchange)
        try:
            tickers.extend(await _venue_tickers(exchange, venue, wanted))
        except ccxt.BaseError as exc:
            failures.append(_failure(ccxt, venue, exc, recorder))
            logger.warning("price venue failed", extra={"venue": venue, "error_type": type(exc).__name__})
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            # ccxt hands an unparsable body (truncated JSON, an HTML error page) on as text; its parsers
            # then fail on it with these.
            failures.append(VenueFailure(venue=venue, code="malformed_response"))
            logger.warning("price venue answered garbage", extra={"venue": venue, "error_type": type(exc).__name__})
        finally:
            await exchange.close()
    return TickersReply(tickers=tickers, failures=failures)


async def _venue_tickers(exchange: Any, venue: str, wanted: set[str]) -> list[Ticker]:
    markets = await exchange.load_markets()
    symbols = sorted(
        symbol
        for symbol, market in markets.items()
        if market.get("base") in wanted
        and market.get("quote") in wanted
        and market.get("spot", True)
        and market.get("active") is not False
    )
    if not symbols:
        return []
    if exchange.has.get("fetchTickers"):
        raw = await exchange.fetch_tickers(symbols)
    else:
        raw = {symbol: await exchange.fetch_ticker(symbol) for symbol in symbols[:MAX_SINGLE_TICKERS]}
    fetched_at = datetime.now(UTC)
    result = []
    for symbol, ticker in raw.items():
        market = markets.get(symbol)
        price = _price(ticker) if isinstance(ticker, dict) else None
        if market is None or price is None:
            continue
        result.append(
            Ticker(venue=venue, base=market["base"], quote=market["quote"], price=price, at=_time(ticker, fetched_at))
        )
    return result


def _failure(ccxt: Any, venue: str, exc: Exception, recorder: _StatusRecorder) -> VenueFailure:
    """By status and exception class, never by message text."""
    if recorder.status == 418:
        return VenueFailure(venue=venue, code="banned", retry_after=recorder.retry_after)
    if recorder.status == 429 or isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return VenueFailure(venue=venue, code="rate_limited", retry_after=recorder.retry_after)
    if isinstance(exc, ccxt.RequestTimeout):
        return VenueFailure(venue=venue, code="timeout")
    if isinstance(exc, ccxt.BadResponse):
        return VenueFailure(venue=venue, code="malformed_response")
    if isinstance(exc, ccxt.NetworkError):
        return VenueFailure(venue=venue, code="exchange_unavailable")
    return VenueFailure(venue=venue, code="exchange_error")
