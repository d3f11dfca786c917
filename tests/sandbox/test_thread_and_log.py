"""The sandbox in a background thread for synchronous callers (ccxt's sync client here), and what the request
log records about hung requests."""

from __future__ import annotations

import time

import ccxt
import pytest

from tallyhold_sandbox import SandboxThread, override_api_urls
from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client


def test_background_thread_serves_a_synchronous_client():
    credentials = generate("okx")
    with SandboxThread(["okx", "kraken"], seed={"venues": {"okx": {"tickers": {"BTC/USDT": "70000"}}}}) as sandbox:
        assert set(sandbox.urls) == {"okx", "kraken"}
        control = sandbox.control("okx")
        control.add_key(
            credentials.api_key,
            credentials.secret,
            passphrase=credentials.passphrase,
            balances={"funding": {"ETH": "4"}},
        )
        exchange = ccxt.okx({**credentials.ccxt(), "enableRateLimit": False, "timeout": 5000})
        exchange.urls["api"] = override_api_urls(exchange.urls["api"], sandbox.url("okx"))
        try:
            assert exchange.fetch_balance({"type": "funding"})["total"] == {"ETH": 4}
            assert exchange.fetch_ticker("BTC/USDT")["last"] == 70000
        finally:
            exchange.close()
        assert ("GET", "/api/v5/asset/balances") in [(e["method"], e["path"]) for e in control.requests()]
    with pytest.raises(RuntimeError, match="not running"):
        sandbox.url("okx")


async def test_a_hung_request_ends_when_the_client_gives_up(sandbox):
    """`hang` keeps the answer back; when the client times out and hangs up, the handler is cancelled and the
    log records 499 (client gone), so no request lingers in the server."""
    credentials = generate("binance")
    control = sandbox.control("binance")
    control.add_key(credentials.api_key, credentials.secret)
    exchange = ccxt_client(sandbox, "binance", credentials.ccxt(), timeout=300)
    since = control.last_seq()
    try:
        with (
            control.fault("hang", path="/api/v3/ticker/price", seconds=60, times=1),
            pytest.raises(ccxt.RequestTimeout),
        ):
            await exchange.publicGetTickerPrice({"symbol": "BTCUSDT"})
    finally:
        await exchange.close()
    deadline = time.monotonic() + 10
    entries: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        entries = [e for e in control.requests(since) if e["fault"] == "hang"]
        if entries:
            break
        await _pause()
    assert [(e["path"], e["status"]) for e in entries] == [("/api/v3/ticker/price", 499)]


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)
