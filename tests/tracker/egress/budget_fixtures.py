"""Instances that share one egress pool: tenants enrolled in a pool of their own (so no other test's traffic
counts), each with an EgressClient whose budget is its own role's SharedBudget on the real Postgres."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.schemas import BalancesRequest
from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.sources.models import SourceBalances
from tallyhold_provision.egress_budget import ensure_schema, set_venue_limit
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.credentials import generate
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant

# Short retries; ccxt's own per-process throttle off, so that only the shared budget paces the calls.
TUNING = {"backoff_base": 0.01, "backoff_cap": 0.05, "timeout": 5, "deadline": 120, "rate_limit": False}


def new_pool() -> str:
    return f"test-{secrets.token_hex(4)}"


@contextmanager
def venue_limit(postgres: LocalPostgres, venue: str, budget: int, window_seconds: int) -> Iterator[None]:
    """A shortened budget for `venue` (windows of seconds, not minutes); the adapters' numbers come back after.
    Set it once the customers exist: creating one stores the adapters' numbers again."""
    with postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, venue, budget, window_seconds)
    try:
        yield
    finally:
        with postgres.connect(DATABASE) as admin:
            ensure_schema(admin)


@dataclass
class Instance:
    tenant: Tenant
    engine: AsyncEngine
    egress: EgressClient
    key: ExchangeKey

    async def balances(self) -> SourceBalances:
        request = BalancesRequest(exchange="binance", key=self.key, check_permissions=False)
        return await self.egress.call("exchange.balances", request, SourceBalances)


def tenant_engine(tenant: Tenant) -> AsyncEngine:
    return create_async_engine(make_url(tenant.app_url).set(drivername="postgresql+psycopg"), pool_size=2)


@asynccontextmanager
async def instances(
    postgres: LocalPostgres,
    sandbox: Sandbox,
    count: int,
    *,
    pool: str,
    shared_budget: bool = True,
    mode: Literal["subprocess", "inprocess"] = "subprocess",
    **tuning: Any,
) -> AsyncIterator[list[Instance]]:
    """`count` customers in `pool`, each with its own role, Binance key and egress client."""
    control = sandbox.control("binance")
    made: list[Instance] = []
    try:
        for _ in range(count):
            tenant = create_tenant(postgres, migrate=False, egress_pool=pool)
            engine = tenant_engine(tenant)
            config = EgressConfig(
                customer_id=tenant.customer_id,
                exchange_api_overrides=dict(sandbox.urls),
                options={"exchanges": {**TUNING, "shared_budget": shared_budget, **tuning}},
            )
            egress = EgressClient(config, mode=mode, budget=SharedBudget(async_sessionmaker(engine)))
            credentials = generate("binance")
            control.add_key(
                credentials.api_key,
                credentials.secret,
                balances={"spot": {"BTC": {"free": "1"}}},
            )
            key = ExchangeKey(api_key=credentials.api_key, api_secret=credentials.secret)
            made.append(Instance(tenant, engine, egress, key))
        yield made
    finally:
        for instance in made:
            await instance.egress.aclose()
            await instance.engine.dispose()
            drop_tenant(instance.tenant)
