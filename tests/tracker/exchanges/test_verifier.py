"""The real CredentialVerifier in the API process, with the egress worker as a subprocess (the boundary)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from tallyhold.egress.client import EgressClient
from tallyhold.errors import TallyholdError
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.verifier import ExchangeCredentialVerifier
from tallyhold_sandbox import Sandbox
from tests.fixtures.instance import offline_settings
from tests.tracker.exchanges.conftest import exchange_config


@pytest.fixture(scope="module")
async def worker(sandbox: Sandbox) -> AsyncIterator[EgressClient]:
    client = EgressClient(exchange_config(sandbox), mode="subprocess", idle_seconds=30)
    yield client
    await client.aclose()


def binance_key(sandbox: Sandbox, *permissions: str, **options: object) -> ExchangeKey:
    api_key, secret = f"binance-{secrets.token_hex(12)}", secrets.token_hex(24)
    sandbox.control("binance").add_key(api_key, secret, permissions=permissions or ("read",), **options)
    return ExchangeKey(api_key=SecretStr(api_key), api_secret=SecretStr(secret))


async def test_a_read_only_key_is_verified_through_the_worker(sandbox: Sandbox, worker: EgressClient) -> None:
    verifier = ExchangeCredentialVerifier(worker, offline_settings())
    result = await verifier.verify("binance", binance_key(sandbox), acknowledge_unverifiable=False)
    assert result.permissions.read is True
    assert result.permissions.trade is False
    assert result.permissions.verified_by == "exchange"
    assert result.ip_restricted is False
    assert result.warnings == []
    assert worker.worker_pid is not None


async def test_a_key_with_write_rights_is_refused_with_binance_words(sandbox: Sandbox, worker: EgressClient) -> None:
    verifier = ExchangeCredentialVerifier(worker, offline_settings())
    with pytest.raises(TallyholdError) as caught:
        await verifier.verify("binance", binance_key(sandbox, "read", "withdraw"), acknowledge_unverifiable=False)
    assert caught.value.status_code == 422
    body = caught.value.body()["error"]
    assert body["code"] == "write_permissions"
    assert body["switch_off"] == ["Enable Withdrawals"]
    assert "Enable Withdrawals" in body["message"]


async def test_the_not_ip_restricted_warning_needs_published_egress_ips(sandbox: Sandbox, worker: EgressClient) -> None:
    verifier = ExchangeCredentialVerifier(worker, offline_settings(EGRESS_IPS="203.0.113.7,2001:db8::1"))
    result = await verifier.verify("binance", binance_key(sandbox), acknowledge_unverifiable=False)
    assert len(result.warnings) == 1
    assert "203.0.113.7, 2001:db8::1" in result.warnings[0]
    restricted = binance_key(sandbox, ip_allowlist=["127.0.0.1"])
    result = await verifier.verify("binance", restricted, acknowledge_unverifiable=False)
    assert result.ip_restricted is True
    assert result.warnings == []


async def test_unsupported_exchange_never_reaches_the_worker(worker: EgressClient) -> None:
    verifier = ExchangeCredentialVerifier(worker, offline_settings())
    key = ExchangeKey(api_key=SecretStr("k" * 20), api_secret=SecretStr("s" * 20))
    with pytest.raises(TallyholdError) as caught:
        await verifier.verify("notanexchange", key, acknowledge_unverifiable=True)
    assert caught.value.status_code == 400
    assert caught.value.code == "unsupported_exchange"
