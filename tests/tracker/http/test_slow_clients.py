"""Slow clients cannot hold the instance: a real slowloris against a real `tallyhold serve` on loopback (bounded
in count and time). Half-open connections are closed once their head is late, even while they keep trickling
header lines; connections beyond the cap are refused at once; a body that does not arrive gets 408; and a normal
client is served throughout."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tallyhold.settings import Settings
from tests.fixtures.platform import Tenant
from tests.fixtures.serve import served_settings

MAX_CONNECTIONS = 60
ATTACKERS = 40  # below the cap: the cap has a test of its own
CLOSE_DEADLINE = 60.0  # generous: a fail-safe for the test, not a measurement


@pytest.fixture(scope="module")
def settings(tenant: Tenant) -> Settings:
    return served_settings(
        tenant,
        HTTP_HEADER_TIMEOUT_SECONDS=2,
        HTTP_BODY_TIMEOUT_SECONDS=2,
        HTTP_KEEPALIVE_SECONDS=1,
        HTTP_MAX_CONNECTIONS=MAX_CONNECTIONS,
    )


async def _connect(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(base)
    assert address.hostname is not None
    assert address.port is not None
    return await asyncio.open_connection(address.hostname, address.port)


async def _closed_by_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trickle: bool) -> bytes:
    """Waits until the server closes the connection, sending one more header line every 0.3 s when `trickle`
    (the slowloris way to keep a connection alive); returns whatever the server sent before closing."""
    received = b""
    deadline = time.monotonic() + CLOSE_DEADLINE
    while time.monotonic() < deadline:
        try:
            if trickle:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            chunk = await asyncio.wait_for(reader.read(4096), 0.3)
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return received
        if not chunk:
            return received
        received += chunk
    raise AssertionError("the server kept a slow connection open")


async def _served(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_trickling_half_open_connections_are_closed_and_a_normal_client_is_served(served: str) -> None:
    connections = [await _connect(served) for _ in range(ATTACKERS)]
    for _, writer in connections:
        writer.write(b"GET /v1/networth HTTP/1.1\r\nHost: instance\r\n")  # a head that never ends
    await _served(served)  # while they are all open
    leftovers = await asyncio.gather(*(_closed_by_server(r, w, trickle=True) for r, w in connections))
    assert leftovers == [b""] * ATTACKERS  # closed without an answer: there was no request to answer
    for _, writer in connections:
        writer.close()
    await _served(served)


async def test_connections_beyond_the_cap_are_refused_at_once_and_silent_ones_closed(served: str) -> None:
    silent = [await _connect(served) for _ in range(MAX_CONNECTIONS)]
    await asyncio.sleep(0)  # let the server see them: nothing is timed on it
    reader, writer = await _connect(served)
    refused = await _closed_by_server(reader, writer, trickle=False)
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert b'"code": "server_busy"' in refused
    assert b"x-content-type-options: nosniff" in refused
    writer.close()
    leftovers = await asyncio.gather(*(_closed_by_server(r, w, trickle=False) for r, w in silent))
    assert leftovers == [b""] * MAX_CONNECTIONS
    for _, writer in silent:
        writer.close()
    await _served(served)


async def test_a_body_that_does_not_arrive_gets_408_and_the_connection_closes(served: str) -> None:
    reader, writer = await _connect(served)
    writer.write(
        b"POST /v1/connections/manual HTTP/1.1\r\nHost: instance\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    answer = await _closed_by_server(reader, writer, trickle=False)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "request_timeout"' in answer
    assert b"x-content-type-options: nosniff" in answer.lower()


async def test_an_idle_keep_alive_connection_is_closed(served: str) -> None:
    reader, writer = await _connect(served)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: instance\r\n\r\n")
    answer = await _closed_by_server(reader, writer, trickle=False)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")  # answered, then closed once idle


async def test_an_oversized_body_gets_413_and_the_connection_closes_without_waiting_for_it(served: str) -> None:
    reader, writer = await _connect(served)
    writer.write(
        b"POST /v1/connections/manual HTTP/1.1\r\nHost: instance\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n{"
    )
    answer = await _closed_by_server(reader, writer, trickle=False)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in answer.lower()
