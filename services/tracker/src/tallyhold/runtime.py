"""The process's runtime: what `tallyhold serve` and the CLI build from the settings before any work starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tallyhold.api.state import InstanceState
from tallyhold.chains.options import ChainOptions
from tallyhold.credentials import runtime as credentials_runtime
from tallyhold.db import create_engine
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.settings import Settings
from tallyhold.sync.engine import SyncEngine


def egress_config(settings: Settings) -> EgressConfig:
    """The non-secret part of the settings that the egress worker needs."""
    rpc = {chain: str(url) for chain, url in settings.chains.evm_rpc.configured().items()}
    esplora = settings.chains.esplora_url
    return EgressConfig(
        customer_id=settings.customer_id,
        log_level=settings.log_level,
        exchange_api_overrides={k: str(v).rstrip("/") for k, v in settings.exchanges.api_overrides.items()},
        evm_rpc=rpc,
        esplora_url=str(esplora).rstrip("/") if esplora else None,
        price_venues=list(settings.prices.venues),
        options=egress_options(settings),
    )


def egress_options(settings: Settings) -> dict[str, Any]:
    """Per-domain tuning of the egress worker: the chain settings and whether the exchange budget is shared,
    then EGRESS_OPTIONS on top."""
    options: dict[str, dict[str, Any]] = {
        "chains": ChainOptions.from_settings(settings.chains).model_dump(exclude_unset=True),
        "exchanges": {"shared_budget": settings.exchanges.shared_budget},
    }
    for domain, tuning in settings.egress.options.items():
        options[domain] = {**options.get(domain, {}), **tuning}
    return dict(options)


@asynccontextmanager
async def standalone_engine(settings: Settings, process: str = "sync") -> AsyncIterator[SyncEngine]:
    """A sync engine outside `tallyhold serve` (`tallyhold sync --once`, benches): the same wiring as the app's
    lifespan (database, egress worker, Vault session and the exchange key source), without HTTP or scheduler."""
    engine = create_engine(settings, process=process)
    egress = EgressClient(egress_config(settings), mode=settings.egress.mode, idle_seconds=settings.egress.idle_seconds)
    state = InstanceState.for_engine(settings, engine, egress)
    egress.budget = SharedBudget(state.session_maker)
    stop_credentials = await credentials_runtime.install(state)
    sync = SyncEngine(settings, state.session_maker, egress, state.services)
    try:
        yield sync
    finally:
        await sync.aclose()
        await stop_credentials()
        await egress.aclose()
        await engine.dispose()
