"""`prices.tickers`, run by the egress worker: public tickers from the price venues, in order of preference.

Only public endpoints are called (no key is ever given to these exchange objects). ccxt is imported inside the
handler, so neither the API process nor anything that imports this module for its models pays for it.
A venue that fails is reported by code in `failures` and the next venue is asked; venues after the first are
only asked for what the earlier ones could not price. The exchange objects get the same overrides, response
hook, strict JSON and error classification as the exchange adapters (exchanges/session.py, errors.py), so a
ban, a rate limit or a Retry-After means the same here as in a sync.

Prices are exact: the JSON decoder keeps every JSON number as its text and ccxt builds its unified numbers as
text instead of float (`exchange.number = str`), so "0.000012345678901234" or "67123.45000001" arrive as
written and become Decimal here. (Not Decimal inside ccxt: its `safe_string` ignores Decimal values.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.session import point_at, record_responses, translated
from tallyhold.exchanges.tls import share_tls_context
from tallyhold.prices.conversion import resolve
from tallyhold.prices.wire import Ticker, TickersReply, TickersRequest, VenueFailure

logger = logging.getLogger("tallyhold.prices")
# Per venue: keep market loading to spot markets (Binance otherwise also asks its futures and margin APIs).
VENUE_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False, "defaultType": "spot"},
}
MAX_SINGLE_TICKERS = 60  # venues without a batch ticker endpoint: one request per market, bounded


def _decimal(value: Any) -> Decimal | None:
    """A ticker number as the venue wrote it: ccxt hands them over as text (`exchange.number = str`, below).
    A float has already lost digits, so it is never taken as a price."""
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return None
    if not isinstance(value, Decimal):
        return None
    return value if value.is_finite() and value > 0 else None


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
        # ccxt's own switch for its unified numbers (float by default): with `str` each comes out as the text
        # the venue sent (a JSON string, or a JSON number kept as its text by the decoder), digit for digit.
        exchange.number = str
        override = config.exchange_api_overrides.get(venue)
        if override:
            exchange.urls["api"] = point_at(exchange.urls["api"], override)
        record_responses(exchange, numbers=str)
        share_tls_context(exchange)
        try:
            tickers.extend(await _venue_tickers(exchange, venue, wanted))
        except CallFailure as failure:
            failures.append(VenueFailure(venue=venue, code=failure.code, retry_after=failure.retry_after))
            logger.warning("price venue failed", extra={"venue": venue, "error_type": failure.error_class})
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            # ccxt hands an unparsable body (truncated JSON, an HTML error page) on as text; its parsers
            # then fail on it with these.
            failures.append(VenueFailure(venue=venue, code="malformed_response"))
            logger.warning("price venue answered garbage", extra={"venue": venue, "error_type": type(exc).__name__})
        finally:
            await exchange.close()
    return TickersReply(tickers=tickers, failures=failures)


async def _venue_tickers(exchange: Any, venue: str, wanted: set[str]) -> list[Ticker]:
    markets = await translated(exchange.load_markets())
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
        raw = await translated(exchange.fetch_tickers(symbols))
    else:
        raw = {symbol: await translated(exchange.fetch_ticker(symbol)) for symbol in symbols[:MAX_SINGLE_TICKERS]}
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
