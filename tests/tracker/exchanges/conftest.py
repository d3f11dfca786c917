"""Exchange tests run against the sandbox venues (tests/fixtures/sandbox.py) through a real EgressClient:
in-process dispatch for the bulk, the worker subprocess where the boundary itself is the point."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.schemas import BalancesRequest, VerifyReply, VerifyRequest
from tallyhold.sources.models import SourceBalances
from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.credentials import generate
from tests.tracker.exchanges.canned import Canned

# Short waits so that retry paths run in milliseconds; the deadline still bounds a `hang` fault.
FAST = {
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
    "inline_retry_after": 1.5,
    "timeout": 1.5,
    "deadline": 15,
    "rate_limit": False,
}


def exchange_config(sandbox: Sandbox, **tuning: Any) -> EgressConfig:
    return EgressConfig(
        customer_id="t_0e0e",
        log_level="DEBUG",
        exchange_api_overrides=dict(sandbox.urls),
        options={"exchanges": {**FAST, **tuning}},
    )


@pytest.fixture(scope="session")
def config(sandbox: Sandbox) -> EgressConfig:
    return exchange_config(sandbox)


@pytest.fixture(scope="session")
async def egress(config: EgressConfig) -> AsyncIterator[EgressClient]:
    client = EgressClient(config, mode="inprocess")
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
async def impatient(sandbox: Sandbox) -> AsyncIterator[EgressClient]:
    """For `hang` faults: a short timeout and two attempts, so a hung venue is given up on quickly."""
    client = EgressClient(exchange_config(sandbox, timeout=0.4, attempts=2), mode="inprocess")
    yield client
    await client.aclose()


class Venue:
    """One sandbox venue and the egress client, with the calls the tests make."""

    def __init__(self, sandbox: Sandbox, egress: EgressClient, name: str) -> None:
        self.name = name
        self.control = sandbox.control(name)
        self.egress = egress

    def key(self, permissions: tuple[str, ...] = ("read",), **options: Any) -> ExchangeKey:
        """A fresh key in the venue's own format (Kraken base64 secrets, OKX passphrases, Coinbase CDP keys)."""
        credentials = generate(self.name)
        passphrase = options.pop("passphrase", None) or credentials.passphrase
        self.control.add_key(
            credentials.api_key, credentials.secret, permissions=permissions, passphrase=passphrase, **options
        )
        return ExchangeKey(api_key=credentials.api_key, api_secret=credentials.secret, passphrase=passphrase)

    async def verify(self, key: ExchangeKey) -> VerifyReply:
        return await self.egress.call(
            "exchange.verify", VerifyRequest(exchange=self.name, key=key, acknowledge_unverifiable=True), VerifyReply
        )

    async def balances(self, key: ExchangeKey, *, check: bool = True) -> SourceBalances:
        request = BalancesRequest(exchange=self.name, key=key, check_permissions=check)
        return await self.egress.call("exchange.balances", request, SourceBalances)

    async def refusal(self, key: ExchangeKey, op: str = "verify") -> EgressError:
        call = self.verify(key) if op == "verify" else self.balances(key)
        with pytest.raises(EgressError) as caught:
            await call
        return caught.value

    def paths(self, key: ExchangeKey, since: int = 0) -> list[str]:
        hint = key.api_key.get_secret_value()[-4:]
        return [f"{e['method']} {e['path']}" for e in self.control.requests(since) if e["key_hint"] == hint]


def totals(reply: SourceBalances) -> dict[tuple[str, str], str]:
    return {(b.asset, b.location): format(b.amount.normalize(), "f") for b in reply.balances}


@pytest.fixture(scope="session")
async def canned_server() -> AsyncIterator[Canned]:
    canned = Canned()

    async def handle(request: web.Request) -> web.Response:
        canned.seen.append((request.method, request.path, dict(request.query)))
        delay = canned.delays.get((request.method, request.path))
        if delay:
            await asyncio.sleep(delay)  # a venue that hangs: the client's timeout fires first
        status, body = canned.routes.get((request.method, request.path), (404, {"error": "not canned"}))
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    canned.url = f"http://127.0.0.1:{port}"
    try:
        yield canned
    finally:
        await runner.cleanup()


@pytest.fixture
def canned(canned_server: Canned) -> Canned:
    canned_server.reset()
    return canned_server
