"""Custom tokens are capped per customer (TALLYHOLD_MAX_CUSTOM_TOKENS): past the cap a new token is 409
`limit_reached`, refused before its contract is read and nothing stored; deleting one makes room."""

from __future__ import annotations

import httpx
import pytest

from tallyhold.settings import Settings
from tests.fixtures.chain import ChainWorld, RpcProxy
from tests.fixtures.instance import assert_error, instance_settings
from tests.fixtures.platform import Tenant


@pytest.fixture(scope="module")
def settings(tenant: Tenant, rpc_proxy: RpcProxy) -> Settings:
    return instance_settings(tenant, EVM_RPC_ETHEREUM=rpc_proxy.url, EGRESS_MODE="inprocess", MAX_CUSTOM_TOKENS=1)


async def custom(client: httpx.AsyncClient) -> list[str]:
    listed = (await client.get("/v1/tokens", params={"chain": "ethereum"})).json()["items"]
    return [t["symbol"] for t in listed if t["source"] == "custom"]


async def test_one_token_past_the_cap_is_refused_before_the_chain_is_asked(
    client: httpx.AsyncClient, chain_world: ChainWorld, rpc_proxy: RpcProxy
) -> None:
    first, second = chain_world.deploy("Cap One", "CAPA", 18), chain_world.deploy("Cap Two", "CAPB", 18)
    added = await client.post("/v1/tokens", json={"chain": "ethereum", "contract": first})
    assert added.status_code == 201, added.text
    calls = rpc_proxy.requests
    error = assert_error(
        await client.post("/v1/tokens", json={"chain": "ethereum", "contract": second}), 409, "limit_reached"
    )
    assert (error["resource"], error["limit"]) == ("custom_tokens", 1)
    assert rpc_proxy.requests == calls
    assert await custom(client) == ["CAPA"]
    assert (await client.delete(f"/v1/tokens/{added.json()['id']}")).status_code == 204
    assert (await client.post("/v1/tokens", json={"chain": "ethereum", "contract": second})).status_code == 201
    assert await custom(client) == ["CAPB"]
