"""Wallet and custom-token routes on a real instance (Postgres), with the chain behind them real too (anvil
through the egress dispatch; Esplora sandbox), and the sync builder end to end."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from tallyhold.chains.catalog import token_location
from tallyhold.chains.sync import build_wallet_request
from tallyhold.models import Connection
from tallyhold.settings import Settings
from tallyhold.sources.models import SourceBalances, SourceContext
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.fixtures.esplora import SeedWallet
from tests.fixtures.instance import assert_error, count_rows, instance_settings, runtime_of
from tests.fixtures.platform import Tenant

WALLETS = "/v1/connections/wallet"


@pytest.fixture(scope="module")
def settings(tenant: Tenant, rpc_proxy: RpcProxy, esplora) -> Settings:
    return instance_settings(
        tenant,
        EVM_RPC_ETHEREUM=rpc_proxy.url,
        EVM_RPC_ARBITRUM=rpc_proxy.url,  # serves chain id 1: a mismatch for Arbitrum
        ESPLORA_URL=esplora.url,
        EGRESS_MODE="inprocess",
    )


@pytest.fixture(scope="module")
def tokens(chain_world: ChainWorld) -> dict[str, str]:
    """Contracts for the custom-token tests, deployed once: one good, and the kinds that must be refused."""
    return {
        "good": chain_world.deploy("Tally Test", "TALLY", 18),
        "good6": chain_world.deploy("Tally Six", "SIX", 6),
        "scam": chain_world.deploy("Tether USD", "USDT", 6),
        "odd_symbol": chain_world.deploy("Visit", "claim at x.io!", 18),
        "huge_decimals": chain_world.deploy("Huge", "HUGE", 200),
        "no_symbol": chain_world.deploy("Nameless", "", 18),
    }


async def test_evm_wallet_is_normalised_and_one_per_chain(client: httpx.AsyncClient, chain_world: ChainWorld):
    holder = chain_world.holders[0]
    response = await client.post(WALLETS, json={"chain": "ethereum", "address": holder.lower(), "label": "Main"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["kind"], created["chain"], created["address"], created["label"]) == (
        "wallet",
        "ethereum",
        holder,
        "Main",
    )
    # The same address on another chain is another wallet; on the same chain (any case) a conflict.
    other = await client.post(WALLETS, json={"chain": "arbitrum", "address": holder})
    assert other.status_code == 201
    assert other.json()["label"] == "Arbitrum One wallet"
    assert_error(
        await client.post(WALLETS, json={"chain": "Ethereum", "address": holder.upper().replace("0X", "0x")}),
        409,
        "wallet_exists",
    )
    assert await count_rows(client) == 2


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"chain": "ethereum", "address": "0x52908400098527886E0F7030069857D2E4169Ee7"},
            422,
            "invalid_address",
        ),  # bad EIP-55
        ({"chain": "ethereum", "address": "0x5290840009852788"}, 422, "invalid_address"),
        ({"chain": "ethereum", "address": "52908400098527886e0f7030069857d2e4169ee7"}, 422, "invalid_address"),
        ({"chain": "ethereum", "xpub": SeedWallet("xpub").extended_public_key}, 422, "invalid_address"),
        (
            {"chain": "bitcoin", "address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"},
            422,
            "invalid_address",
        ),  # checksum
        (
            {"chain": "bitcoin", "address": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"},
            422,
            "invalid_address",
        ),  # testnet
        (
            {"chain": "bitcoin", "address": "Bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"},
            422,
            "invalid_address",
        ),  # mixed case
        ({"chain": "bitcoin", "address": "1BitcoinEaterAddressDontSendf59kuF"}, 422, "invalid_address"),
        ({"chain": "bitcoin"}, 422, "invalid_address"),
        ({"chain": "dogecoin", "address": "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"}, 400, "unsupported_chain"),
        ({"chain": "polygon", "address": "0x52908400098527886e0f7030069857d2e4169ee7"}, 422, "chain_not_configured"),
        (
            {"chain": "ethereum", "address": "0x52908400098527886e0f7030069857d2e4169ee7", "extra": 1},
            422,
            "invalid_request",
        ),
    ],
)
async def test_bad_wallets_are_refused_and_nothing_stored(client: httpx.AsyncClient, body, status: int, code: str):
    assert_error(await client.post(WALLETS, json=body), status, code)
    assert await count_rows(client) == 0


@pytest.mark.parametrize("kind", ["xpub", "ypub", "zpub"])
async def test_bitcoin_extended_keys_are_wallets(client: httpx.AsyncClient, kind: str):
    key = SeedWallet(kind).extended_public_key
    response = await client.post(WALLETS, json={"chain": "bitcoin", "xpub": key, "label": kind})
    assert response.status_code == 201, response.text
    assert response.json()["address"] == key
    # Pasted into the address field, the same key is recognised as the same wallet.
    assert_error(await client.post(WALLETS, json={"chain": "bitcoin", "address": key}), 409, "wallet_exists")


async def test_chains_are_listed_with_their_configuration(client: httpx.AsyncClient):
    items = {c["name"]: c for c in (await client.get("/v1/chains")).json()["items"]}
    assert set(items) == {"ethereum", "arbitrum", "optimism", "base", "polygon", "bsc", "bitcoin"}
    assert items["ethereum"]["configured"]
    assert items["bitcoin"]["configured"]
    assert not items["polygon"]["configured"]
    assert items["bsc"]["chain_id"] == 56
    assert items["bsc"]["native_asset"] == "BNB"


async def test_custom_token_lifecycle(client: httpx.AsyncClient, tokens: dict[str, str]):
    response = await client.post("/v1/tokens", json={"chain": "ethereum", "contract": tokens["good"].lower()})
    assert response.status_code == 201, response.text
    token = response.json()
    assert (token["symbol"], token["decimals"], token["asset"], token["source"]) == ("TALLY", 18, "TALLY", "custom")
    assert token["contract"] == tokens["good"]
    assert token["name"] == "Tally Test"
    listed = (await client.get("/v1/tokens", params={"chain": "ethereum"})).json()["items"]
    assert [t["symbol"] for t in listed if t["source"] == "custom"] == ["TALLY"]
    assert sum(t["source"] == "curated" for t in listed) == 28
    assert_error(
        await client.post("/v1/tokens", json={"chain": "ethereum", "contract": tokens["good"]}), 409, "token_exists"
    )
    assert (await client.delete(f"/v1/tokens/{token['id']}")).status_code == 204
    assert_error(await client.delete(f"/v1/tokens/{token['id']}"), 404, "not_found")


@pytest.mark.parametrize(
    ("which", "status", "code"),
    [
        ("scam", 409, "token_symbol_conflict"),
        ("odd_symbol", 422, "invalid_token"),
        ("huge_decimals", 422, "invalid_token"),
        ("no_symbol", 422, "invalid_token"),
        ("eoa", 422, "invalid_token"),
        ("curated", 409, "token_exists"),
    ],
)
async def test_unusable_tokens_are_refused(
    client: httpx.AsyncClient, tokens: dict[str, str], chain_world: ChainWorld, which: str, status: int, code: str
):
    contract = {"eoa": chain_world.holders[0], "curated": chain_world.curated[0].contract}.get(which) or tokens[which]
    assert_error(await client.post("/v1/tokens", json={"chain": "ethereum", "contract": contract}), status, code)
    assert [t for t in (await client.get("/v1/tokens")).json()["items"] if t["source"] == "custom"] == []


async def test_token_on_a_mismatched_rpc_is_refused(client: httpx.AsyncClient, tokens: dict[str, str]):
    assert_error(
        await client.post("/v1/tokens", json={"chain": "arbitrum", "contract": tokens["good"]}), 502, "chain_mismatch"
    )


async def test_sync_builder_reads_curated_and_custom_tokens(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, chain_world: ChainWorld, tokens: dict[str, str]
):
    holder = chain_world.holders[3]
    chain_world.mint(tokens["good6"], holder, 4_200_000_001)
    assert (await client.post("/v1/tokens", json={"chain": "ethereum", "contract": tokens["good6"]})).status_code == 201
    wallet = (await client.post(WALLETS, json={"chain": "ethereum", "address": holder})).json()
    state = runtime_of(app)
    async with state.session_maker() as session:
        connection = await session.get(Connection, uuid.UUID(wallet["id"]))
        assert connection is not None
        builder = build_wallet_request
        assert builder is not None
        call = await builder(connection, SourceContext(settings=settings, session=session))
    assert (call.op, call.venue) == ("chain.balances", "ethereum")
    result = await state.egress.call(call.op, call.request, SourceBalances)
    found = {(b.asset, b.location): b.amount for b in result.balances}
    assert found[("SIX", "onchain")] == Decimal("4200.000001")
    assert found[("ETH", "onchain")] == Decimal(chain_world.wei[holder]).scaleb(-18)
    for token in chain_world.curated:
        if chain_world.expected(holder, token):
            location = token_location(token.symbol, token.asset)
            assert found[(token.asset, location)] == chain_world.expected(holder, token)


async def test_sync_builder_for_an_xpub(client: httpx.AsyncClient, app: FastAPI, settings: Settings, esplora):
    wallet = SeedWallet("ypub")
    esplora.state.fund(wallet.address(1, 5), 777)
    created = (await client.post(WALLETS, json={"chain": "bitcoin", "xpub": wallet.extended_public_key})).json()
    state = runtime_of(app)
    async with state.session_maker() as session:
        connection = await session.get(Connection, uuid.UUID(created["id"]))
        assert connection is not None
        builder = build_wallet_request
        assert builder is not None
        call = await builder(connection, SourceContext(settings=settings, session=session))
    assert call.request.model_dump()["gap_limit"] == 20
    assert call.venue == "bitcoin"
    result = await state.egress.call(call.op, call.request, SourceBalances)
    assert result.balances[0].amount >= Decimal("0.00000777")
