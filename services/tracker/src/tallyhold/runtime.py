"""The process's runtime: what `tallyhold serve` and the CLI build from the settings before any work starts."""

from __future__ import annotations

from typing import Any

from tallyhold.chains.options import ChainOptions
from tallyhold.egress.protocol import EgressConfig
from tallyhold.settings import Settings


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
    """Per-domain tuning of the egress worker: the chain settings, then EGRESS_OPTIONS on top."""
    options: dict[str, dict[str, Any]] = {
        "chains": ChainOptions.from_settings(settings.chains).model_dump(exclude_unset=True)
    }
    for domain, tuning in settings.egress.options.items():
        options[domain] = {**options.get(domain, {}), **tuning}
    return dict(options)
