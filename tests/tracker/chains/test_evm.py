"""EVM balances on a real chain (anvil + the project's ERC-20): exact, batched, pinned, checked, resilient."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import pytest

from tallyhold.chains.catalog import token_location
from tallyhold.egress.protocol import EgressError
from tallyhold.sources.models import SourceBalances
from tallyhold_provision.local.ports import free_port
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.tracker.chains.conftest import egress_config, read_wallet


def _by_key(result: SourceBalances) -> dict[tuple[str, str], Decimal]:
    return {(b.asset, b.location): b.amount for b in result.balances}


async def test_balances_exact_to_the_wei(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    config = egress_config({"ethereum": rpc_proxy.url})
    for holder in chain_world.holders:
        result = await read_wallet(config, "ethereum", holder, chain_world.curated)
        found = _by_key(result)
        assert found[("ETH", "onchain")] == Decimal(chain_world.wei[holder]).scaleb(-18)
        for token in chain_world.curated:
            expected = chain_world.expected(holder, token)
            location = token_location(token.symbol, token.asset)
            if expected:
                assert found[(token.asset, location)] == expected, token.symbol
            else:
                assert (token.asset, location) not in found  # nothing held: not reported
        assert result.facts["chain_id"] == 1
        assert isinstance(result.facts["block_number"], int)


async def test_requests_follow_the_batch_size_and_share_one_block(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    batch = 7
    config = egress_config({"ethereum": rpc_proxy.url}, evm_batch_size=batch, evm_block_pin_seconds=30)
    rpc_proxy.reset()
    results = await asyncio.gather(
        *(read_wallet(config, "ethereum", holder, chain_world.curated) for holder in chain_world.holders)
    )
    balances = len(chain_world.holders) * (1 + len(chain_world.curated))
    # One request for the head (chain id + block), then ceil(balances / batch size) for the balances.
    assert rpc_proxy.requests == 1 + math.ceil(balances / batch)
    assert rpc_proxy.calls_per_request[0] == 2
    assert all(size <= batch for size in rpc_proxy.calls_per_request[1:])
    assert sum(rpc_proxy.calls_per_request[1:]) == balances
    assert len({r.facts["block_number"] for r in results}) == 1


async def test_sequential_reads_stay_pinned_then_move_on(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    holder = chain_world.holders[0]
    pinned = egress_config({"ethereum": rpc_proxy.url}, evm_block_pin_seconds=60, evm_coalesce_seconds=0)
    first = await read_wallet(pinned, "ethereum", holder, [])
    chain_world.rpc("anvil_mine", "0x3")
    rpc_proxy.reset()
    second = await read_wallet(pinned, "ethereum", holder, [])
    assert second.facts["block_number"] == first.facts["block_number"]
    assert "eth_chainId" not in rpc_proxy.methods  # the pinned head was reused
    unpinned = egress_config({"ethereum": rpc_proxy.url}, evm_block_pin_seconds=0, evm_coalesce_seconds=0)
    third = await read_wallet(unpinned, "ethereum", holder, [])
    assert third.facts["block_number"] >= first.facts["block_number"] + 3


async def test_chain_id_mismatch_is_an_error(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    # anvil serves chain id 1; configured as Arbitrum's RPC (42161) it must be refused.
    config = egress_config({"arbitrum": rpc_proxy.url})
    with pytest.raises(EgressError) as caught:
        await read_wallet(config, "arbitrum", chain_world.holders[0], [])
    assert caught.value.code == "chain_mismatch"
    assert not caught.value.transient
    assert caught.value.failure.details == {"chain": "arbitrum", "expected_chain_id": 42161, "rpc_chain_id": 1}


async def test_one_chain_failing_leaves_the_others_alone(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    dead = f"http://127.0.0.1:{free_port()}"
    config = egress_config({"ethereum": rpc_proxy.url, "arbitrum": rpc_proxy.url, "base": dead}, retries=1)
    holder = chain_world.holders[1]
    eth, arb, base = await asyncio.gather(
        read_wallet(config, "ethereum", holder, chain_world.curated),
        read_wallet(config, "arbitrum", holder, []),
        read_wallet(config, "base", holder, []),
        return_exceptions=True,
    )
    assert not isinstance(eth, BaseException)
    assert _by_key(eth)[("ETH", "onchain")] == Decimal(chain_world.wei[holder]).scaleb(-18)
    assert isinstance(arb, EgressError)
    assert arb.code == "chain_mismatch"
    assert isinstance(base, EgressError)
    assert base.code == "rpc_unavailable"
    assert base.transient


async def test_rpc_errors_are_retried_with_backoff(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    holder = chain_world.holders[2]
    config = egress_config({"ethereum": rpc_proxy.url}, retries=4, evm_block_pin_seconds=0)
    rpc_proxy.reset()
    rpc_proxy.faults = ["503", "rpc_error", "malformed", "429"]
    result = await read_wallet(config, "ethereum", holder, chain_world.curated)
    assert _by_key(result)[("ETH", "onchain")] == Decimal(chain_world.wei[holder]).scaleb(-18)
    # 4 failed attempts at the head, 1 good head, 1 batch of balances (29 calls < 100).
    assert rpc_proxy.requests == 6


async def test_retries_run_out_into_a_transient_error(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    config = egress_config({"ethereum": rpc_proxy.url}, retries=2, evm_block_pin_seconds=0)
    rpc_proxy.reset()
    rpc_proxy.faults = ["503", "503", "503"]
    with pytest.raises(EgressError) as caught:
        await read_wallet(config, "ethereum", chain_world.holders[0], [])
    assert caught.value.code == "rpc_unavailable"
    assert caught.value.transient
    assert rpc_proxy.requests == 3


async def test_a_token_without_code_is_an_error_not_a_zero(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    from tallyhold.chains.tokenlist import CuratedToken

    nowhere = CuratedToken("ethereum", "0x000000000000000000000000000000000000dEaD", "GHOST", 18, "GHOST")
    config = egress_config({"ethereum": rpc_proxy.url})
    with pytest.raises(EgressError) as caught:
        await read_wallet(config, "ethereum", chain_world.holders[0], [nowhere])
    assert caught.value.code == "token_read_failed"
    assert not caught.value.transient


async def test_an_unconfigured_chain_is_reported(chain_world: ChainWorld):
    with pytest.raises(EgressError) as caught:
        await read_wallet(egress_config({}), "polygon", chain_world.holders[0], [])
    assert caught.value.code == "chain_not_configured"
