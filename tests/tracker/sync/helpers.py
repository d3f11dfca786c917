"""Helpers of the sync tests: instance settings against the sandbox venues, waiting for a sync, reading rows."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.models import Balance, Connection, ConnectionSnapshot
from tallyhold.settings import Settings, leaves
from tallyhold_sandbox import Sandbox, VenueControl
from tests.fixtures.instance import instance_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.vault import VaultTenant

# Sandbox venues have no limits: no ccxt throttle and short waits. Timeouts stay generous: the test machine
# is shared, and only `hang` faults should ever time out.
FAST_EGRESS = {
    "exchanges": {
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "inline_retry_after": 1.5,
        "timeout": 6.0,
        "attempts": 1,
        "deadline": 10,
        "rate_limit": False,
    },
    "prices": {"rate_limit": False},
}


def sync_settings(tenant: Tenant, vault: VaultTenant, sandbox: Sandbox, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        **vault.settings(),
        "EXCHANGE_API_OVERRIDES": sandbox.overrides_json(),
        "PRICE_VENUES": "kraken,binance",
        "EGRESS_OPTIONS": FAST_EGRESS,
        "SYNC_TIMEOUT_SECONDS": 10,
        "SYNC_VENUE_CONCURRENCY": 5,
        "BREAKER_FAILURES": 20,
        "SYNC_BACKOFF_BASE_SECONDS": 1,
    }
    values.update(overrides)
    return instance_settings(tenant, **values)


async def wait_idle(client: httpx.AsyncClient, deadline: float = 60.0) -> dict[str, Any]:
    """Polls GET /v1/sync/status until the background sync of every source has finished."""
    limit = time.monotonic() + deadline
    while True:
        status: dict[str, Any] = (await client.get("/v1/sync/status")).json()
        if not status["running"]:
            return status
        assert time.monotonic() < limit, "sync did not finish"
        await asyncio.sleep(0.05)


async def sync_now(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/v1/sync")
    assert response.status_code == 202, response.text
    return await wait_idle(client)


@dataclass(frozen=True)
class ExchangeAccount:
    connection_id: str
    api_key: str
    venue: VenueControl

    def set_spot(self, balances: dict[str, str]) -> None:
        self.venue.set_balances(self.api_key, {"spot": balances})


AddAccount = Callable[..., Awaitable[ExchangeAccount]]


async def spot_amounts(maker: async_sessionmaker[AsyncSession], connection_id: str) -> dict[str, str]:
    async with maker() as session:
        rows = await session.scalars(select(Balance).where(Balance.connection_id == uuid.UUID(connection_id)))
        return {b.asset: format(b.amount.normalize(), "f") for b in rows}


async def snapshot_count(maker: async_sessionmaker[AsyncSession], connection_id: str | None = None) -> int:
    statement = select(func.count()).select_from(ConnectionSnapshot)
    if connection_id is not None:
        statement = statement.where(ConnectionSnapshot.connection_id == uuid.UUID(connection_id))
    async with maker() as session:
        return int(await session.scalar(statement) or 0)


async def connection_row(maker: async_sessionmaker[AsyncSession], connection_id: str) -> Connection:
    async with maker() as session:
        found = await session.get(Connection, uuid.UUID(connection_id))
        assert found is not None
        return found


def key_requests(venue: VenueControl, api_key: str, since: int = 0) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in venue.requests(since) if e["key_hint"] == api_key[-4:]]


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a `tallyhold` process these settings (every field set explicitly)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    for leaf in leaves():
        if leaf.is_set(settings):
            env[leaf.variable] = _encode(leaf.value(settings))
    env.update(extra)
    return env


def _encode(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)
