"""Sync tests run a tenant's instance with a real OpenBao key, the real exchange connectors and the sandbox
venues (faults scoped to each test's own keys), through the egress worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.db import create_engine, create_session_maker
from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tests.fixtures.sandbox import new_key
from tests.tracker.sync.helpers import AddAccount, ExchangeAccount


@pytest.fixture
def add_binance(client: httpx.AsyncClient, sandbox: Sandbox) -> AddAccount:
    """Creates an exchange connection through the API (real verifier, real cipher) for a new sandbox key."""

    async def add(spot: dict[str, str], label: str = "Binance") -> ExchangeAccount:
        venue = sandbox.control("binance")
        api_key, secret = new_key("sync"), new_key("secret")
        venue.add_key(api_key, secret, permissions=["read"], balances={"spot": spot})
        response = await client.post(
            "/v1/connections/exchange",
            json={"exchange": "binance", "label": label, "api_key": api_key, "api_secret": secret},
        )
        assert response.status_code == 201, response.text
        return ExchangeAccount(str(response.json()["id"]), api_key, venue)

    return add


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(settings, process="test")
    yield create_session_maker(engine)
    await engine.dispose()
