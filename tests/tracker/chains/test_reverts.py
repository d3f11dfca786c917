"""Contracts that revert: a token-info probe of a contract without ERC-20 methods, and a wallet whose token's
balanceOf reverts (that token fails alone: the other wallets of the same batch still get their balances)."""

from __future__ import annotations

import asyncio

import pytest

from tallyhold.chains.tokenlist import CuratedToken
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressError
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.tracker.chains.conftest import egress_config, read_wallet

ALWAYS_REVERTS = "0x60006000fd"  # PUSH1 0 PUSH1 0 REVERT


@pytest.fixture(scope="module")
def reverting(chain_world: ChainWorld) -> str:
    address = "0x00000000000000000000000000000000000BAD01"
    chain_world.rpc("anvil_setCode", address, ALWAYS_REVERTS)
    return "0x00000000000000000000000000000000000bAD01"


async def test_token_info_of_a_reverting_contract(rpc_proxy: RpcProxy, reverting: str):
    config = egress_config({"ethereum": rpc_proxy.url})
    info = await dispatch("chain.token_info", {"chain": "ethereum", "contract": reverting}, config)
    assert info["has_code"] is True
    assert (info["symbol"], info["name"], info["decimals"], info["balance_of"]) == (None, None, None, False)


async def test_a_reverting_token_fails_alone(chain_world: ChainWorld, rpc_proxy: RpcProxy, reverting: str):
    bad = CuratedToken("ethereum", reverting, "BAD", 18, "BAD")
    good = chain_world.curated[:3]
    config = egress_config({"ethereum": rpc_proxy.url}, evm_batch_size=1000)
    rpc_proxy.reset()
    broken, fine = await asyncio.gather(
        read_wallet(config, "ethereum", chain_world.holders[0], [*good, bad]),
        read_wallet(config, "ethereum", chain_world.holders[1], good),
        return_exceptions=True,
    )
    assert isinstance(broken, EgressError)
    assert broken.code == "token_read_failed"
    assert not broken.transient
    assert not isinstance(fine, BaseException)
    assert fine.balances
    assert rpc_proxy.requests == 1  # one batch: control calls and both wallets' reads, reverting call included
