"""The AppRole secret id reaches the instance response-wrapped (credentials/delivery.py), against real OpenBao:
the instance unwraps it at its first login and keeps it, a restart with the same wrapping token logs in with
the kept secret id, and a wrapping token somebody else unwrapped first (or one that wraps anything but a secret
id of the instance's own role) leaves the instance `denied`, holding nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tallyhold_provision import tenant_vault
from tallyhold_provision.naming import new_customer_id
from tests.fixtures.instance import instance_settings
from tests.fixtures.vault import destroy_vault_tenant, provision_vault_tenant, start_cipher, unwrap_secret_id
from tests.tracker.credentials.test_vault_session import round_trip


def _wrapped_settings(tenant, created, wrapping_token: str, store: Path):
    values = {**created.settings(), "VAULT_SECRET_ID": None}
    return instance_settings(
        tenant,
        CUSTOMER_ID=created.names.customer_id,
        **values,
        VAULT_WRAPPED_SECRET_ID=wrapping_token,
        VAULT_SECRET_ID_FILE=str(store),
    )


async def test_unwrapped_once_kept_and_reused_across_restarts(openbao, vault_admin, tenant, tmp_path):
    created = provision_vault_tenant(openbao, new_customer_id())
    try:
        wrapped = tenant_vault.wrapped_secret_id(vault_admin, created.names)
        store = tmp_path / "vault-secret-id.json"
        settings = _wrapped_settings(tenant, created, wrapped.wrapping_token, store)
        for _ in range(2):  # a start, then a restart with the same wrapping token
            vault, cipher = await start_cipher(settings)
            try:
                assert vault.available
                await round_trip(cipher)
            finally:
                await vault.aclose()
        assert store.stat().st_mode & 0o077 == 0
        kept = json.loads(store.read_text())
        assert wrapped.wrapping_token not in store.read_text()  # only its fingerprint
        lookup = vault_admin.write_data(
            f"auth/approle/role/{created.names.role}/secret-id/lookup", data={"secret_id": kept["secret_id"]}
        )["data"]
        assert lookup["secret_id_accessor"] == wrapped.accessor
        # A new wrapping token (the provisioner renewed the secret id) is unwrapped at the next start.
        renewed = tenant_vault.wrapped_secret_id(vault_admin, created.names)
        vault, cipher = await start_cipher(_wrapped_settings(tenant, created, renewed.wrapping_token, store))
        try:
            await round_trip(cipher)
        finally:
            await vault.aclose()
        assert json.loads(store.read_text())["secret_id"] != kept["secret_id"]
    finally:
        destroy_vault_tenant(openbao, created)


async def test_a_wrapping_token_unwrapped_by_someone_else_leaves_the_instance_denied(
    openbao, vault_admin, tenant, tmp_path
):
    created = provision_vault_tenant(openbao, new_customer_id())
    try:
        intercepted = tenant_vault.wrapped_secret_id(vault_admin, created.names)
        unwrap_secret_id(openbao.addr, intercepted.wrapping_token)  # the interceptor got there first
        # And a wrapping token of something else than this role's secret id (here: another role's).
        other = provision_vault_tenant(openbao, new_customer_id())
        foreign = tenant_vault.wrapped_secret_id(vault_admin, other.names)
        try:
            for token in (intercepted.wrapping_token, foreign.wrapping_token):
                store = tmp_path / f"{token[-6:]}.json"
                vault, cipher = await start_cipher(_wrapped_settings(tenant, created, token, store))
                try:
                    assert await cipher.probe() == "denied"
                    assert not store.exists()
                finally:
                    await vault.aclose()
            # The foreign token was looked up, never unwrapped: its own instance can still use it.
            assert unwrap_secret_id(openbao.addr, foreign.wrapping_token)
        finally:
            destroy_vault_tenant(openbao, other)
    finally:
        destroy_vault_tenant(openbao, created)
