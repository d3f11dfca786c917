"""The sandbox's per-IP request-weight limit (Binance's): weights per endpoint, the used-weight header, 429 with
Retry-After over the limit, and a ban (418) for an IP that keeps sending after a 429. A sandbox of its own, so
the limit never reaches the session's shared venues."""

from __future__ import annotations

import aiohttp

from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.iplimit import USED_WEIGHT_HEADER

# An hour-long window: the test's few requests never straddle two windows.
HOUR = 3600.0


async def test_weights_then_429_then_a_ban_for_ignoring_it() -> None:
    async with Sandbox(["binance"]) as sandbox, aiohttp.ClientSession() as http:
        control = sandbox.control("binance")
        control.limit_ip_weight(50, window_seconds=HOUR, ban_seconds=120)
        base = sandbox.url("binance")

        async def get(path: str) -> aiohttp.ClientResponse:
            async with http.get(base + path) as response:
                await response.read()
                return response

        first = await get("/api/v3/exchangeInfo")  # weight 20
        second = await get("/api/v3/ping")  # weight 1
        assert (first.status, first.headers[USED_WEIGHT_HEADER]) == (200, "20")
        assert (second.status, second.headers[USED_WEIGHT_HEADER]) == (200, "21")
        await get("/api/v3/exchangeInfo")
        over = await get("/api/v3/exchangeInfo")  # 61 > 50
        assert over.status == 429
        assert int(over.headers["Retry-After"]) >= 1
        ignored = await get("/api/v3/ping")  # sent before the Retry-After ran out: banned
        assert ignored.status == 418
        assert ignored.headers["Retry-After"] == "120"
        still = await get("/api/v3/ping")
        assert still.status == 418
        assert control.ip_weight_stats() == {"limit": 50, "peak_used": 41, "rate_limited": 1, "banned": 2}


async def test_no_limit_unless_asked() -> None:
    async with Sandbox(["binance"]) as sandbox, aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(sandbox.url("binance") + "/api/v3/exchangeInfo") as response:
                assert response.status == 200
                assert USED_WEIGHT_HEADER not in response.headers
