from __future__ import annotations

from typing import Any

from tallyhold.chains.catalog import token_location
from tallyhold.chains.tokenlist import CuratedToken
from tallyhold.chains.wire import TokenSpec
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressConfig
from tallyhold.sources.models import SourceBalances

FAST = {"retry_base_seconds": 0.01, "retry_cap_seconds": 0.05, "timeout_seconds": 5}


def egress_config(rpc: dict[str, str] | None = None, esplora: str | None = None, **options: Any) -> EgressConfig:
    return EgressConfig(
        customer_id="t_00ff",
        evm_rpc=rpc or {},
        esplora_url=esplora,
        options={"chains": {**FAST, **options}},
    )


def spec(token: CuratedToken) -> dict[str, Any]:
    return TokenSpec(
        contract=token.contract,
        decimals=token.decimals,
        asset=token.asset,
        location=token_location(token.symbol, token.asset),
    ).model_dump()


async def read_wallet(config: EgressConfig, chain: str, address: str, tokens: list[CuratedToken]) -> SourceBalances:
    payload = {"chain": chain, "address": address, "tokens": [spec(t) for t in tokens]}
    return SourceBalances.model_validate(await dispatch("chain.balances", payload, config))
