"""Rotation drill: 1,000 stored credentials, a key rotation with rewrap while the
customer keeps replacing keys and syncs keep decrypting. Afterwards: no ciphertext of an old key version, no
edit lost, no sync failed, and the old ciphertexts are refused."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from psycopg import sql
from sqlalchemy import update

from tallyhold.credentials import service as credentials
from tallyhold.credentials.errors import CredentialsUnreadable
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import Connection
from tallyhold_provision import rotation, tenant_vault
from tests.fixtures.ciphertexts import decrypt_all, read_ciphertexts, seed_exchange_rows
from tests.fixtures.platform import DATABASE
from tests.fixtures.stored_connection import exchange_key
from tests.fixtures.vault import start_cipher

ROWS = 1_000


@pytest.fixture
def admin_db(postgres, tenant):
    with postgres.connect(DATABASE) as connection:
        connection.execute(sql.SQL("TRUNCATE {}.connections CASCADE").format(sql.Identifier(tenant.schema)))
        yield connection


async def test_rotation_drill_with_concurrent_edits(vault_admin, vault_tenant, admin_db, postgres, tenant, settings):
    names = vault_tenant.names
    expected = seed_exchange_rows(vault_admin, names, admin_db, tenant.schema, ROWS)
    old_ciphertexts = read_ciphertexts(admin_db, tenant.schema)
    start = tenant_vault.read_key(vault_admin, names)
    assert start is not None
    vault, cipher = await start_cipher(settings)
    engine = create_engine(settings, process="test")
    sessions = create_session_maker(engine)
    rows = list(expected)
    rng = random.Random(7)
    done = asyncio.Event()
    edits_during_rotation = 0
    reads, read_failures = 0, 0

    async def edit_keys() -> None:
        """The customer replacing keys: the same sealing and row write as PUT /credentials."""
        nonlocal edits_during_rotation
        while not done.is_set():
            row = uuid.UUID(rng.choice(rows))
            key = exchange_key(f"edited-key-{uuid.uuid4().hex}", f"edited-secret-{uuid.uuid4().hex}")
            async with transaction(sessions) as session:
                sealed = await credentials.seal(session, cipher, tenant.schema, row, key)
                await session.execute(update(Connection).where(Connection.id == row).values(**sealed.columns))
            expected[str(row)] = {
                "api_key": key.api_key.get_secret_value().encode(),
                "api_secret": key.api_secret.get_secret_value().encode(),
            }
            edits_during_rotation += 1

    async def sync_reads() -> None:
        """A sync decrypting keys all along: it must never fail, whatever version the row holds."""
        nonlocal reads, read_failures
        while not done.is_set():
            row = uuid.UUID(rng.choice(rows))
            try:
                async with transaction(sessions) as session:
                    opened = await credentials.open_key(session, cipher, row)
                    assert opened.api_key.get_secret_value()
                reads += 1
            except CredentialsUnreadable:
                read_failures += 1

    def rotate() -> rotation.RotationReport:
        with postgres.connect(DATABASE) as connection:
            return rotation.rotate_and_rewrap(vault_admin, names, connection, tenant.schema)

    try:
        workers = [asyncio.create_task(edit_keys()), asyncio.create_task(sync_reads())]
        await asyncio.sleep(0.2)
        edits_during_rotation = 0
        report = await asyncio.to_thread(rotate)
        done.set()
        await asyncio.gather(*workers)
    finally:
        done.set()
        await vault.aclose()
        await engine.dispose()

    assert report.rotated
    assert report.latest_version == start.latest_version + 1
    assert edits_during_rotation > 0
    assert reads > 0
    assert read_failures == 0
    assert rotation.count_stale(admin_db, tenant.schema, report.latest_version) == 0
    now = read_ciphertexts(admin_db, tenant.schema)
    assert all(ct.startswith(f"vault:v{report.latest_version}:") for values in now.values() for ct in values.values())
    assert decrypt_all(vault_admin, names, now) == expected  # every edit kept, every other key intact
    info = tenant_vault.read_key(vault_admin, names)
    assert info is not None
    assert info.min_decryption_version == report.latest_version
    refused = decrypt_all(vault_admin, names, old_ciphertexts)
    assert all(value is None for values in refused.values() for value in values.values())
