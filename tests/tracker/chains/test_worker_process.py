"""The chain operations across the real process boundary: the egress worker subprocess reads anvil and Esplora."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tallyhold.chains.wire import HeadReply, HeadRequest, WalletBalancesRequest
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.sources.models import SourceBalances
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.fixtures.esplora import SeedWallet
from tests.tracker.chains.conftest import egress_config, spec


async def test_balances_through_the_worker_process(chain_world: ChainWorld, rpc_proxy: RpcProxy, esplora):
    config = egress_config({"ethereum": rpc_proxy.url, "arbitrum": rpc_proxy.url}, esplora=esplora.url)
    client = EgressClient(config, mode="subprocess", idle_seconds=5)
    try:
        holder = chain_world.holders[0]
        request = WalletBalancesRequest.model_validate(
            {"chain": "ethereum", "address": holder, "tokens": [spec(t) for t in chain_world.curated]}
        )
        result = await client.call("chain.balances", request, SourceBalances)
        found = {(b.asset, b.location): b.amount for b in result.balances}
        assert found[("ETH", "onchain")] == Decimal(chain_world.wei[holder]).scaleb(-18)
        head = await client.call("chain.head", HeadRequest(chain="ethereum"), HeadReply)
        assert head.chain_id == 1
        assert head.block_number >= result.facts["block_number"]
        with pytest.raises(EgressError) as caught:
            await client.call("chain.head", HeadRequest(chain="arbitrum"), HeadReply)
        assert caught.value.code == "chain_mismatch"
        assert not caught.value.transient
        address = SeedWallet("zpub").address(0, 77)
        esplora.state.fund(address, 21)
        btc = await client.call(
            "chain.balances", WalletBalancesRequest(chain="bitcoin", address=address), SourceBalances
        )
        assert btc.balances[0].amount == Decimal("0.00000021")
        assert client.workers_started == 1
    finally:
        await client.aclose()
