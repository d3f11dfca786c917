"""Wallets through the real sync engine (POST /v1/sync): EVM balances exact to the wei from anvil, a Bitcoin
xpub with its unconfirmed amount apart, and a chain whose RPC serves another chain failing alone."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tallyhold.chains.catalog import token_location
from tallyhold.settings import Settings
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.fixtures.esplora import SeedWallet
from tests.fixtures.instance import instance_settings, wait_idle
from tests.fixtures.platform import Tenant


@pytest.fixture(scope="module")
def settings(tenant: Tenant, rpc_proxy: RpcProxy, esplora) -> Settings:
    return instance_settings(
        tenant,
        EVM_RPC_ETHEREUM=rpc_proxy.url,
        EVM_RPC_BASE=rpc_proxy.url,  # anvil answers chain id 1, not Base's 8453
        ESPLORA_URL=esplora.url,
        EGRESS_MODE="inprocess",
        PRICE_VENUES="",
    )


async def test_wallets_sync_through_the_engine(client: httpx.AsyncClient, chain_world: ChainWorld, esplora):
    holder = chain_world.holders[1]
    xpub = SeedWallet("xpub")
    esplora.state.fund(xpub.address(0, 11), 50_000_000)
    esplora.state.fund(xpub.address(1, 0), 2_500, confirmed=False)
    eth = (await client.post("/v1/connections/wallet", json={"chain": "ethereum", "address": holder})).json()
    base = (await client.post("/v1/connections/wallet", json={"chain": "base", "address": holder})).json()
    btc = (
        await client.post("/v1/connections/wallet", json={"chain": "bitcoin", "xpub": xpub.extended_public_key})
    ).json()

    assert (await client.post("/v1/sync")).status_code == 202
    status = await wait_idle(client)
    by_id = {source["connection_id"]: source for source in status["sources"]}
    assert by_id[eth["id"]]["last_error"] is None
    assert by_id[btc["id"]]["last_error"] is None
    assert by_id[base["id"]]["last_error"] == "chain_mismatch"

    items = (await client.get("/v1/balances", params={"group_by": "none"})).json()["items"]
    held = {(i["connection_id"], i["asset"], i["location"]): i for i in items}
    assert Decimal(held[(eth["id"], "ETH", "onchain")]["amount"]) == Decimal(chain_world.wei[holder]).scaleb(-18)
    for token in chain_world.curated:
        expected = chain_world.expected(holder, token)
        location = token_location(token.symbol, token.asset)
        if expected:
            assert Decimal(held[(eth["id"], token.asset, location)]["amount"]) == expected
    bitcoin = held[(btc["id"], "BTC", "onchain")]
    assert Decimal(bitcoin["amount"]) >= Decimal("0.5")
    assert Decimal(bitcoin["unconfirmed"]) >= Decimal("0.000025")
    assert not any(key[0] == base["id"] for key in held)
