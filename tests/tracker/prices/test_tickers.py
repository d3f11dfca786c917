"""`prices.tickers` against the sandbox venues over real HTTP, through the egress dispatch (in process): prices
exactly as the venue wrote them, and a failing venue reported with the same codes and Retry-After as a sync's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig
from tallyhold.prices.wire import TickersReply, TickersRequest, VenueFailure
from tallyhold_sandbox import Sandbox

# More significant digits than a float holds (a float round trip loses the tail), and the plain examples.
LONG = "67123.4500000100000000001"
TINY = "0.000012345678901234567891"
QUOTES = {"binance": "USDT", "okx": "USDT", "bybit": "USDT", "kraken": "USD", "coinbase": "USD"}


@pytest.fixture(scope="module")
async def egress(sandbox: Sandbox) -> AsyncIterator[EgressClient]:
    config = EgressConfig(
        customer_id="prices-test",
        exchange_api_overrides=json.loads(sandbox.overrides_json()),
        options={"prices": {"rate_limit": False}},
    )
    client = EgressClient(config, mode="inprocess")
    yield client
    await client.aclose()


async def _tickers(egress: EgressClient, venues: list[str], assets: list[str], quote: str) -> TickersReply:
    request = TickersRequest(venues=venues, assets=assets, quote=quote, timeout_seconds=2.0)
    return await egress.call("prices.tickers", request, TickersReply)


@pytest.fixture
def odd_prices(sandbox: Sandbox, request: pytest.FixtureRequest) -> Iterator[str]:
    """BTC and DOGE on the venue get prices whose digits a float cannot keep, for this test only."""
    venue: str = request.param
    control = sandbox.control(venue)
    quote = QUOTES[venue]
    symbols = [f"BTC/{quote}", f"DOGE/{quote}"]
    before = {symbol: control.view()["tickers"][symbol] for symbol in symbols}
    control.set_tickers({symbols[0]: LONG, symbols[1]: TINY})
    yield venue
    control.set_tickers(before)


@pytest.mark.parametrize("odd_prices", sorted(QUOTES), indirect=True)
async def test_prices_keep_every_digit_the_venue_sent(egress: EgressClient, odd_prices: str) -> None:
    venue = odd_prices
    reply = await _tickers(egress, [venue], ["BTC", "DOGE"], QUOTES[venue])
    prices = {(t.base, t.quote): t.price for t in reply.tickers if t.venue == venue}
    assert reply.failures == []
    assert prices[("BTC", QUOTES[venue])] == Decimal(LONG)
    assert prices[("DOGE", QUOTES[venue])] == Decimal(TINY)
    assert Decimal(str(float(LONG))) != Decimal(LONG), "the value is one a float would have changed"


@pytest.mark.parametrize("raw", ["67123.4500000100000000001", "0.000012345678901234567891", "6.71234500000000000001e4"])
async def test_json_number_prices_are_read_exactly(egress: EgressClient, sandbox: Sandbox, raw: str) -> None:
    """A venue that sends a bare JSON number (not a string) keeps every digit: the price venues' decoder keeps
    a number's text, which a float would round (each of these has more significant digits than a float holds)."""
    assert Decimal(repr(float(raw))) != Decimal(raw)
    binance = sandbox.control("binance")
    bare = {"lastPrice": {"json_number": raw}}
    with binance.fault("set_fields", path="/api/v3/ticker/24hr", fields=bare, times=1):
        reply = await _tickers(egress, ["binance"], ["BTC"], "USDT")
    btc = next(t for t in reply.tickers if (t.base, t.quote) == ("BTC", "USDT"))
    assert btc.price == Decimal(raw)


@pytest.mark.parametrize(
    ("kind", "spec", "code", "retry_after"),
    [
        ("rate_limit", {"retry_after": 7}, "rate_limited", 7.0),
        ("ban", {"retry_after": 600}, "banned", 600.0),
        ("unavailable", {}, "exchange_unavailable", None),
        ("malformed_json", {}, "malformed_response", None),
    ],
)
async def test_a_failing_venue_is_reported_like_a_sync_failure_and_the_next_one_prices(
    egress: EgressClient, sandbox: Sandbox, kind: str, spec: dict[str, Any], code: str, retry_after: float | None
) -> None:
    binance = sandbox.control("binance")
    with binance.fault(kind, path="/api/v3/ticker/24hr", times=1, **spec):
        reply = await _tickers(egress, ["binance", "okx"], ["BTC"], "USDT")
    assert reply.failures == [VenueFailure(venue="binance", code=code, retry_after=retry_after)]
    btc = [(t.venue, t.price) for t in reply.tickers if (t.base, t.quote) == ("BTC", "USDT")]
    assert btc == [("okx", Decimal("65000"))], "the next venue priced it"
