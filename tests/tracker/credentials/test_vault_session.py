"""The instance's Vault login and token care against real OpenBao: every auth method, renewal and re-login
under continuous use with a short TTL, one re-login after a forced 403."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from tallyhold.credentials.errors import VaultUnavailable
from tallyhold.credentials.transit import CiphertextItem, EncryptItem
from tallyhold_provision.naming import new_customer_id
from tests.fixtures.instance import instance_settings
from tests.fixtures.vault import destroy_vault_tenant, key_named_tenant, provision_vault_tenant, start_cipher


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def round_trip(cipher, value: bytes = b"continuous-use") -> None:
    context = cipher.context(uuid.uuid4(), "api_secret")
    [encrypted] = await cipher.encrypt([EncryptItem("x", context, value)])
    assert encrypted.value is not None
    [decrypted] = await cipher.decrypt([CiphertextItem("x", context, encrypted.value)])
    assert decrypted.value == value


async def test_token_auth(openbao, vault_admin, tenant):
    with key_named_tenant(vault_admin, new_customer_id()) as names:
        token = vault_admin.auth.token.create(policies=[names.policy], no_default_policy=True, ttl="1h")["auth"]
        settings = instance_settings(
            tenant,
            CUSTOMER_ID=names.customer_id,
            VAULT_ADDR=openbao.addr,
            VAULT_AUTH="token",
            VAULT_TOKEN=token["client_token"],
            VAULT_KEY=names.key,
        )
        vault, cipher = await start_cipher(settings)
        try:
            assert vault.available
            await round_trip(cipher)
            assert await cipher.probe() == "ok"
        finally:
            await vault.aclose()


async def test_a_wrong_secret_id_is_denied_not_retried_forever(openbao, tenant, vault_tenant):
    settings = instance_settings(tenant, **{**vault_tenant.settings(), "VAULT_SECRET_ID": str(uuid.uuid4())})
    denied = metric("tallyhold_vault_logins_total", method="approle", outcome="denied")
    vault, cipher = await start_cipher(settings)
    try:
        assert not vault.available
        assert vault.status == "denied"
        with pytest.raises(VaultUnavailable):
            await round_trip(cipher)
        assert await cipher.probe() == "denied"
        assert metric("tallyhold_vault_logins_total", method="approle", outcome="denied") >= denied + 1
    finally:
        await vault.aclose()


async def test_short_ttl_under_continuous_use(openbao, tenant):
    """Tokens live 2 s and at most 4 s: over several lifetimes, renewals and re-logins keep every call working."""
    short = provision_vault_tenant(openbao, new_customer_id(), token_ttl=2, token_max_ttl=4)
    settings = instance_settings(tenant, CUSTOMER_ID=short.names.customer_id, **short.settings())
    logins = metric("tallyhold_vault_logins_total", method="approle", outcome="ok")
    renewals = metric("tallyhold_vault_token_renewals_total", outcome="ok")
    vault, cipher = await start_cipher(settings)
    calls = 0
    try:
        deadline = time.monotonic() + 9  # four and a half token lifetimes, two max-TTLs
        while time.monotonic() < deadline:
            await round_trip(cipher)  # any failure raises and fails the test
            calls += 1
            await asyncio.sleep(0.02)
    finally:
        await vault.aclose()
        destroy_vault_tenant(openbao, short)
    assert calls > 50
    assert metric("tallyhold_vault_token_renewals_total", outcome="ok") - renewals >= 2
    assert metric("tallyhold_vault_logins_total", method="approle", outcome="ok") - logins >= 3  # start + ≥2 re-logins


async def test_a_forced_403_triggers_exactly_one_relogin(vault_admin, settings):
    vault, cipher = await start_cipher(settings)
    try:
        await round_trip(cipher)
        logins = metric("tallyhold_vault_logins_total", method="approle", outcome="ok")
        vault_admin.auth.token.revoke(vault.client.token)
        # Several calls see the revoked token at once: they share one new login.
        await asyncio.gather(*(round_trip(cipher) for _ in range(5)))
        await round_trip(cipher)
        assert metric("tallyhold_vault_logins_total", method="approle", outcome="ok") == logins + 1
        assert vault.available
    finally:
        await vault.aclose()
