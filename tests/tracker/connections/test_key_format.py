"""A key no exchange could accept (characters that cannot go into a header or a signature) is bad input:
422 `invalid_key_format` naming the field, refused before any call to the exchange, nothing stored. Before
this check such keys reached ccxt in the egress worker and were answered 502 `exchange_unavailable`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tallyhold.settings import Settings
from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.credentials import generate
from tests.fixtures.instance import FAST_EGRESS, assert_error, count_rows, instance_settings
from tests.fixtures.platform import Tenant
from tests.fixtures.sandbox import new_key
from tests.fixtures.vault import VaultTenant

SANDBOX_VENUES = ("binance", "kraken", "okx", "coinbase", "bybit")
BAD_VALUES = {
    "api_key": ["abcdef\n123456", "abc\x00def123", "abc\x7fdef123", "abc def 123456", "keyé123456", "key\u202e123456"],
    "api_secret": ["sec\x00ret123", "sec\x1bret123", "sec\x85ret123", "sec\tret123"],
    "passphrase": ["pass\n1234", "pass\x00word", "passé1234"],
    "uid": ["uid\n1", "uid 1", "uidé"],
}
CASES = [(field, value) for field, values in BAD_VALUES.items() for value in values]


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    return instance_settings(
        tenant, **vault_tenant.settings(), EXCHANGE_API_OVERRIDES=sandbox.overrides_json(), EGRESS_OPTIONS=FAST_EGRESS
    )


def valid_key(venue: str) -> dict[str, Any]:
    credentials = generate(venue)
    body: dict[str, Any] = {"api_key": new_key(venue), "api_secret": credentials.secret}
    if credentials.passphrase:
        body["passphrase"] = credentials.passphrase
    return body


def requests_seen(sandbox: Sandbox) -> int:
    return sum(sandbox.control(venue).last_seq() for venue in SANDBOX_VENUES)


@pytest.mark.parametrize("venue", SANDBOX_VENUES)
@pytest.mark.parametrize(("field", "value"), CASES)
async def test_unusable_key_is_refused_before_any_call(
    client: httpx.AsyncClient, sandbox: Sandbox, venue: str, field: str, value: str
) -> None:
    before = requests_seen(sandbox)
    body = {"exchange": venue, "label": "Main", **valid_key(venue), field: value, "acknowledge_unverifiable": True}
    response = await client.post("/v1/connections/exchange", json=body)
    error = assert_error(response, 422, "invalid_key_format")
    assert error["fields"] == [field]
    assert value.strip() not in response.text
    assert requests_seen(sandbox) == before
    assert await count_rows(client) == 0


@pytest.mark.parametrize("secret", ["not base64 !!", "c2VjcmV0-_", "c2VjcmV0\nc2VjcmV0"])
async def test_kraken_secret_must_be_base64(client: httpx.AsyncClient, sandbox: Sandbox, secret: str) -> None:
    before = requests_seen(sandbox)
    body = {"exchange": "kraken", "label": "Main", "api_key": new_key("kraken"), "api_secret": secret}
    error = assert_error(await client.post("/v1/connections/exchange", json=body), 422, "invalid_key_format")
    assert error["fields"] == ["api_secret"]
    assert requests_seen(sandbox) == before


async def test_replacement_is_checked_the_same_way(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    binance = sandbox.control("binance")
    key = valid_key("binance")
    binance.add_key(key["api_key"], key["api_secret"], permissions=["read"], balances={"spot": {"BTC": "1"}})
    created = await client.post("/v1/connections/exchange", json={"exchange": "binance", "label": "Main", **key})
    assert created.status_code == 201, created.text
    before = requests_seen(sandbox)
    replaced = await client.put(
        f"/v1/connections/{created.json()['id']}/credentials",
        json={"api_key": "new\nkey123456", "api_secret": key["api_secret"]},
    )
    assert_error(replaced, 422, "invalid_key_format")
    assert requests_seen(sandbox) == before
    after = (await client.get(f"/v1/connections/{created.json()['id']}")).json()
    assert after["key_hint"] == key["api_key"][-4:]


async def test_ordinary_keys_pass_the_check(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """PEM secrets (line breaks) and passphrases with inner spaces are real formats, not refused here."""
    coinbase = generate("coinbase")
    assert "\n" in coinbase.secret
    body = {"exchange": "coinbase", "label": "Main", "api_key": new_key("cb"), "api_secret": coinbase.secret}
    assert (await client.post("/v1/connections/exchange", json=body)).json()["error"]["code"] == "invalid_credentials"
    body = {"exchange": "okx", "label": "Main", **valid_key("okx"), "passphrase": "my pass phrase"}
    assert (await client.post("/v1/connections/exchange", json=body)).json()["error"]["code"] == "invalid_credentials"
