"""Rotation as the provisioner runs it: rotate, rewrap every ciphertext, raise min_decryption_version."""

from __future__ import annotations

import pytest
from psycopg import sql

from tallyhold.credentials import transit
from tallyhold.credentials.context import derivation_context
from tallyhold_provision import rotation, tenant_vault
from tallyhold_provision.rotation import RewrapIncomplete
from tests.fixtures.ciphertexts import decrypt_all, read_ciphertexts, seed_exchange_rows
from tests.fixtures.platform import DATABASE


def _key(admin, names) -> tenant_vault.KeyInfo:
    info = tenant_vault.read_key(admin, names)
    assert info is not None
    return info


@pytest.fixture
def admin_db(postgres, tenant):
    with postgres.connect(DATABASE) as connection:
        connection.execute(sql.SQL("TRUNCATE {}.connections CASCADE").format(sql.Identifier(tenant.schema)))
        yield connection


def test_rotation_rewraps_everything_and_retires_the_old_version(vault_admin, vault_tenant, admin_db, tenant):
    names = vault_tenant.names
    plain = seed_exchange_rows(vault_admin, names, admin_db, tenant.schema, 30, fields=("api_key", "api_secret", "uid"))
    before = read_ciphertexts(admin_db, tenant.schema)
    start = _key(vault_admin, names)

    report = rotation.rotate_and_rewrap(vault_admin, names, admin_db, tenant.schema)

    assert report.rotated
    assert report.latest_version == start.latest_version + 1
    assert report.rewrapped == 90
    assert rotation.count_stale(admin_db, tenant.schema, report.latest_version) == 0
    after = read_ciphertexts(admin_db, tenant.schema)
    assert all(ct.startswith(f"vault:v{report.latest_version}:") for row in after.values() for ct in row.values())
    assert decrypt_all(vault_admin, names, after) == plain
    info = _key(vault_admin, names)
    assert info.min_decryption_version == report.latest_version
    old = decrypt_all(vault_admin, names, before)
    assert all(value is None for row in old.values() for value in row.values())


def test_an_interrupted_rotation_is_finished_not_repeated(vault_admin, vault_tenant, admin_db, tenant):
    names = vault_tenant.names
    plain = seed_exchange_rows(vault_admin, names, admin_db, tenant.schema, 5)
    crashed = tenant_vault.rotate_key(vault_admin, names)  # a crash right after the rotate step

    report = rotation.rotate_and_rewrap(vault_admin, names, admin_db, tenant.schema)

    assert not report.rotated
    assert report.latest_version == crashed.latest_version
    assert decrypt_all(vault_admin, names, read_ciphertexts(admin_db, tenant.schema)) == plain
    assert _key(vault_admin, names).min_decryption_version == crashed.latest_version
    # And the next call is a real rotation again.
    assert rotation.rotate_and_rewrap(vault_admin, names, admin_db, tenant.schema).rotated


def test_a_refused_ciphertext_is_reported_and_blocks_only_the_minimum(vault_admin, vault_tenant, admin_db, tenant):
    names = vault_tenant.names
    plain = seed_exchange_rows(vault_admin, names, admin_db, tenant.schema, 10)
    victim, donor = list(plain)[:2]
    admin_db.execute(  # A's api_secret ciphertext moved into B's row: bound to A's context, so B cannot use it
        sql.SQL("UPDATE {0}.connections SET api_secret_ct = (SELECT api_secret_ct FROM {0}.connections WHERE id = %s)"
                " WHERE id = %s").format(sql.Identifier(tenant.schema)),
        (donor, victim),
    )  # fmt: skip
    start = _key(vault_admin, names)

    with pytest.raises(RewrapIncomplete) as refused:
        rotation.rotate_and_rewrap(vault_admin, names, admin_db, tenant.schema)

    assert refused.value.failed == {f"{victim}:api_secret": "authentication_failed"}
    info = _key(vault_admin, names)
    assert info.min_decryption_version == start.min_decryption_version
    assert rotation.count_stale(admin_db, tenant.schema, info.latest_version) == 1
    good = {row: values for row, values in read_ciphertexts(admin_db, tenant.schema).items() if row != victim}
    assert decrypt_all(vault_admin, names, good) == {row: plain[row] for row in good}


def test_tenant_identity_can_rewrap_but_not_rotate(vault_tenant):
    client = vault_tenant.login()
    names = vault_tenant.names
    item = transit.EncryptItem("x", derivation_context(names.customer_id, "r", "api_key"), b"abc")
    [ct] = transit.encrypt(client, "transit", names.key, [item])
    assert ct.value is not None
    [rewrapped] = transit.rewrap(client, "transit", names.key, [transit.CiphertextItem("x", item.context, ct.value)])
    assert rewrapped.ok
