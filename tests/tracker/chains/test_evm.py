"""EVM balances on a real chain (anvil + the project's ERC-20): exact, batched, pinned, checked, resilient."""

from __future__ import annotations

import asyncio
import hashlib
import math
from decimal import Decimal

import pytest
from web3 import Web3

from tallyhold.chains.catalog import token_location
from tallyhold.chains.evm import reader_for
from tallyhold.chains.options import ChainOptions
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
    # Exactly ceil(balances / batch size): the chain id and head ride along in the first batch.
    assert rpc_proxy.requests == math.ceil(balances / batch)
    opening = [call["method"] for call in rpc_proxy.payloads[0]]
    assert opening[:2] == ["eth_chainId", "eth_getBlockByNumber"]
    assert opening[-1] == "eth_blockNumber"
    assert len(opening) == batch + 3  # the batch size counts balance reads; the 3 control calls ride along
    assert all(size <= batch for size in rpc_proxy.calls_per_request[1:])
    assert sum(rpc_proxy.calls_per_request) - 3 == balances
    block = results[0].facts["block_number"]
    assert {r.facts["block_number"] for r in results} == {block}
    # Every batch after the opening one is pinned to the block the opening batch named.
    assert {call["params"][-1] for payload in rpc_proxy.payloads[1:] for call in payload} == {hex(block)}


async def test_a_block_landing_mid_batch_rereads_the_first_chunk_at_the_earlier_block(
    chain_world: ChainWorld, rpc_proxy: RpcProxy
):
    # A wallet of its own (no other test reads it). The proxy answers the opening batch as a node whose head
    # moved after its first two calls: the reads at "latest" come from the next block (one ether more) and the
    # closing eth_blockNumber names that block. Those reads must be dropped and the chunk read at the first block.
    wallet = Web3.to_checksum_address(hashlib.sha256(b"mid-batch wallet").digest()[:20])
    before = 7 * 10**18 + 4242
    chain_world.set_wei(wallet, before)
    chain_world.rpc("evm_mine")  # the balance is part of a mined block, so reading it pinned is well defined
    opening_block = chain_world.w3.eth.block_number
    batch = 4
    config = egress_config(
        {"ethereum": rpc_proxy.url}, evm_batch_size=batch, evm_block_pin_seconds=0, evm_coalesce_seconds=0
    )
    rpc_proxy.reset()
    rpc_proxy.head_moves_mid_batch = True
    result = await read_wallet(config, "ethereum", wallet, chain_world.curated)

    # The balances are those of the block the opening batch named, not a mix of two blocks.
    assert result.facts["block_number"] == opening_block
    assert _by_key(result)[("ETH", "onchain")] == Decimal(before).scaleb(-18)
    reads = 1 + len(chain_world.curated)
    # One extra request, for the re-read of the opening chunk, pinned to the earlier block.
    assert rpc_proxy.requests == math.ceil(reads / batch) + 1
    opening_reads = rpc_proxy.payloads[0][2:-1]
    assert [call["method"] for call in rpc_proxy.payloads[1]] == [call["method"] for call in opening_reads]
    assert {call["params"][-1] for call in opening_reads} == {"latest"}
    assert {call["params"][-1] for payload in rpc_proxy.payloads[1:] for call in payload} == {hex(opening_block)}


async def test_nothing_to_read_still_checks_the_chain_id(chain_world: ChainWorld, rpc_proxy: RpcProxy):
    options = ChainOptions(evm_block_pin_seconds=0, evm_coalesce_seconds=0, retries=0)
    rpc_proxy.reset()
    head, found = await reader_for("ethereum", rpc_proxy.url, options).balances([])
    assert (head.chain_id, found) == (1, {})
    assert [[call["method"] for call in payload] for payload in rpc_proxy.payloads] == [
        ["eth_chainId", "eth_getBlockByNumber"]
    ]
    with pytest.raises(EgressError) as caught:
        await reader_for("arbitrum", rpc_proxy.url, options).balances([])
    assert caught.value.code == "chain_mismatch"


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
    # 4 failed attempts at the opening batch, then 1 good one holding every read (29 reads < 100).
    assert rpc_proxy.requests == 5


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
