"""Exchange tests run against the sandbox venues (tests/fixtures/sandbox.py) through a real EgressClient:
in-process dispatch for the bulk, the worker subprocess where the boundary itself is the point."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.exchanges.schemas import BalancesRequest, VerifyReply, VerifyRequest, WireKey
from tallyhold.sources.models import SourceBalances
from tallyhold_sandbox import Sandbox

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

    def key(self, permissions: tuple[str, ...] = ("read",), **options: Any) -> WireKey:
        api_key = f"{self.name}-{secrets.token_hex(12)}"
        secret = secrets.token_hex(24)
        passphrase = options.pop("passphrase", None)
        self.control.add_key(api_key, secret, permissions=permissions, passphrase=passphrase, **options)
        return WireKey(api_key=api_key, api_secret=secret, passphrase=passphrase)

    async def verify(self, key: WireKey) -> VerifyReply:
        return await self.egress.call(
            "exchange.verify", VerifyRequest(exchange=self.name, key=key, acknowledge_unverifiable=True), VerifyReply
        )

    async def balances(self, key: WireKey, *, check: bool = True) -> SourceBalances:
        request = BalancesRequest(exchange=self.name, key=key, check_permissions=check)
        return await self.egress.call("exchange.balances", request, SourceBalances)

    async def refusal(self, key: WireKey, op: str = "verify") -> EgressError:
        call = self.verify(key) if op == "verify" else self.balances(key)
        with pytest.raises(EgressError) as caught:
            await call
        return caught.value

    def paths(self, key: WireKey, since: int = 0) -> list[str]:
        hint = key.api_key.get_secret_value()[-4:]
        return [f"{e['method']} {e['path']}" for e in self.control.requests(since) if e["key_hint"] == hint]


def totals(reply: SourceBalances) -> dict[tuple[str, str], str]:
    return {(b.asset, b.location): format(b.amount.normalize(), "f") for b in reply.balances}
