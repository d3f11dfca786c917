"""EVM balance reads: 50 addresses × 30 ERC-20 tokens (+ the native coin) on anvil.

Tallyhold's path (50 concurrent `chain.balances` requests through the egress dispatch: coalesced, pinned to one
block, JSON-RPC batches of `EVM_BATCH_SIZE`) against a naive loop making one call per balance (web3's
ordinary `.call()`, with request caching on so each call is exactly one HTTP request) in the same run.
HTTP requests are counted by a proxy in front of anvil; wall times are measured straight against anvil (no
proxy), median of a few rounds. Targets (issue 5): requests = ceil(balances / batch size) per chain (the chain id
and head ride along in the first batch; one more only if a block lands during it), and at least 3× faster than
the naive loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import statistics
import time
from decimal import Decimal
from typing import Any

from web3 import Web3

from tallyhold.chains.catalog import token_location
from tallyhold.chains.tokenlist import CuratedToken
from tallyhold.chains.wire import TokenSpec
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressConfig
from tallyhold.sources.models import SourceBalances
from tests.fixtures.chain import Anvil, ChainWorld, RpcProxy, build_world, token_artifact

ADDRESSES = 50
TOKENS = 30
BATCH_SIZE = 100
ROUNDS = 3


def _addresses() -> list[str]:
    return [Web3.to_checksum_address(hashlib.sha256(f"bench-{i}".encode()).digest()[:20]) for i in range(ADDRESSES)]


def _setup(world: ChainWorld) -> tuple[list[str], list[CuratedToken]]:
    tokens = list(world.curated)
    while len(tokens) < TOKENS:  # the 28 curated Ethereum tokens, topped up with our own
        n = len(tokens)
        contract = world.deploy(f"Bench {n}", f"BENCH{n}", 18)
        tokens.append(CuratedToken("ethereum", contract, f"BENCH{n}", 18, f"BENCH{n}"))
    tokens = tokens[:TOKENS]
    addresses = _addresses()
    for i, address in enumerate(addresses):
        world.set_wei(address, 10**18 + i)
        for k, token in enumerate(tokens):
            if (i + k) % 2 == 0:
                world.mint(token.contract, address, 10**token.decimals * (i + 1) + k)
    return addresses, tokens


def _config(url: str) -> EgressConfig:
    return EgressConfig(
        customer_id="t_00ff",
        evm_rpc={"ethereum": url},
        options={"chains": {"evm_batch_size": BATCH_SIZE, "evm_block_pin_seconds": 0}},
    )


async def _batched(url: str, addresses: list[str], tokens: list[CuratedToken]) -> dict[tuple[str, str], Decimal]:
    specs = [
        TokenSpec(
            contract=t.contract, decimals=t.decimals, asset=t.asset, location=token_location(t.symbol, t.asset)
        ).model_dump()
        for t in tokens
    ]
    config = _config(url)
    replies = await asyncio.gather(
        *(dispatch("chain.balances", {"chain": "ethereum", "address": a, "tokens": specs}, config) for a in addresses)
    )
    found: dict[tuple[str, str], Decimal] = {}
    for address, reply in zip(addresses, replies, strict=True):
        for balance in SourceBalances.model_validate(reply).balances:
            found[(address, f"{balance.asset}@{balance.location}")] = balance.amount
    return found


def _naive(url: str, addresses: list[str], tokens: list[CuratedToken]) -> dict[tuple[str, str], Decimal]:
    w3 = Web3(Web3.HTTPProvider(url, cache_allowed_requests=True))
    block = w3.eth.block_number
    abi = token_artifact()["abi"]
    contracts = [(t, w3.eth.contract(address=Web3.to_checksum_address(t.contract), abi=abi)) for t in tokens]
    found: dict[tuple[str, str], Decimal] = {}
    for address in addresses:
        wei = w3.eth.get_balance(Web3.to_checksum_address(address), block)
        found[(address, "ETH@onchain")] = Decimal(wei).scaleb(-18)
        for token, contract in contracts:
            units = contract.functions.balanceOf(address).call(block_identifier=block)
            if units:
                key = f"{token.asset}@{token_location(token.symbol, token.asset)}"
                found[(address, key)] = found.get((address, key), Decimal(0)) + Decimal(units).scaleb(-token.decimals)
    return found


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    anvil = Anvil(chain_id=1).start()
    proxy = RpcProxy(anvil.url).start()
    try:
        setup_started = time.perf_counter()
        world = build_world(anvil.url, holders=0)
        addresses, tokens = _setup(world)
        took = time.perf_counter() - setup_started
        print(f"setup: {ADDRESSES} addresses × {len(tokens)} tokens on anvil ({took:.1f} s)")
        balances = ADDRESSES * (len(tokens) + 1)

        # Correctness: both ways agree on every balance.
        batched = asyncio.run(_batched(anvil.url, addresses, tokens))
        naive = _naive(anvil.url, addresses, tokens)
        print(f"batched and naive reads agree on every balance: {'yes' if batched == naive else 'NO'}")

        # HTTP requests, counted by the proxy.
        proxy.reset()
        asyncio.run(_batched(proxy.url, addresses, tokens))
        batched_requests = proxy.requests
        largest = max(proxy.calls_per_request)
        proxy.reset()
        _naive(proxy.url, addresses, tokens)
        naive_requests = proxy.requests

        # Wall time, straight against anvil.
        batched_times = [_timed(lambda: asyncio.run(_batched(anvil.url, addresses, tokens))) for _ in range(ROUNDS)]
        naive_times = [_timed(lambda: _naive(anvil.url, addresses, tokens)) for _ in range(ROUNDS)]
        b, n = statistics.median(batched_times), statistics.median(naive_times)
        target = math.ceil(balances / BATCH_SIZE)

        print(f"balances per read: {balances} (native + {len(tokens)} tokens for {ADDRESSES} addresses)")
        print(f"batch size: {BATCH_SIZE} balance reads; largest batch sent: {largest} calls (3 of them control calls)")
        print(
            f"HTTP requests  batched: {batched_requests} (target ceil({balances}/{BATCH_SIZE}) = {target})"
            f"   naive: {naive_requests}"
        )
        print(f"wall time      batched: {b * 1000:.0f} ms   naive: {n * 1000:.0f} ms   (median of {ROUNDS})")
        fewer = naive_requests / batched_requests
        print(f"ratio          naive / batched: {n / b:.1f}× faster, {fewer:.0f}× fewer requests")
        print(
            f"targets        requests {'met' if batched_requests == target else 'MISSED'}; "
            f"speed-up ≥ 3×: {'met' if n / b >= 3 else 'MISSED'}"
        )
    finally:
        proxy.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
