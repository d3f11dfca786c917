"""The `hold` fault: a request waits until the test releases it, then gets the answer of that moment. Tests
use it to order a venue's answer against something else (a key replacement) without sleeping."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import ccxt.async_support as ccxt
import pytest

from tallyhold_sandbox import RemoteControl, RemoteControlError, Sandbox
from tallyhold_sandbox.credentials import generate
from tests.fixtures.sandbox import ccxt_client, wait_held


async def test_hold_answers_after_release_with_the_state_of_that_moment(sandbox: Sandbox) -> None:
    venue = sandbox.control("binance")
    credentials = generate("binance")
    venue.add_key(credentials.api_key, credentials.secret, balances={"spot": {"BTC": "1"}})
    fault = venue.add_fault("hold", path="/api/v3/account", api_key=credentials.api_key, times=1)
    client: ccxt.Exchange = ccxt_client(
        sandbox, "binance", {"apiKey": credentials.api_key, "secret": credentials.secret}, timeout=30000
    )
    try:
        await client.load_markets()
        pending = asyncio.create_task(client.fetch_balance())
        await wait_held(venue, fault)
        assert not pending.done()
        venue.set_balances(credentials.api_key, {"spot": {"BTC": "2"}})
        venue.release(fault)
        balance = await pending
        assert balance["total"]["BTC"] == 2.0
        assert venue.held(fault) == 1, "the fault stays readable after its `times` are used"
        again = await client.fetch_balance()  # times=1: the next request is not held
        assert again["total"]["BTC"] == 2.0
    finally:
        await client.close()
        venue.clear_faults(fault)


async def test_hold_over_the_control_api_and_removal_releases(sandbox: Sandbox) -> None:
    url = sandbox.url("binance")
    remote = RemoteControl(url)
    fault = await asyncio.to_thread(remote.add_fault, "hold", path="/api/v3/ping")

    def ping() -> int:
        with urllib.request.urlopen(url + "/api/v3/ping", timeout=30) as response:  # noqa: S310 - sandbox URL
            return int(response.status)

    pending = asyncio.create_task(asyncio.to_thread(ping))
    limit = time.monotonic() + 30
    while await asyncio.to_thread(remote.held, fault) < 1:
        assert time.monotonic() < limit, "the ping never reached the hold"
        await asyncio.sleep(0.01)
    view = await asyncio.to_thread(remote.view)
    assert [f["held"] for f in view["faults"] if f["id"] == fault] == [1]
    await asyncio.to_thread(remote.clear_faults, fault)  # removing a hold lets its requests go
    assert await pending == 200
    with pytest.raises(RemoteControlError, match="no hold fault"):
        await asyncio.to_thread(remote.held, fault)
