"""The instance's cipher against real OpenBao: round trips, binding to record and field, batches, failures."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from tallyhold.credentials import service as credentials
from tallyhold.credentials.errors import CredentialsUnreadable
from tallyhold.credentials.transit import MAX_BATCH_ITEMS, CiphertextItem, EncryptItem
from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.egress.protocol import WIRE_CONTEXT
from tallyhold.logging import SecretRegistry
from tallyhold.models import Connection
from tests.fixtures.stored_connection import exchange_key, store_exchange_connection
from tests.fixtures.vault import start_cipher


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def sessions(settings, clean_tenant):
    engine = create_engine(settings, process="test")
    yield create_session_maker(engine)
    await engine.dispose()


async def test_every_part_round_trips_and_stays_masked_outside_the_wire(cipher, sessions, settings):
    key = exchange_key("AKIA-canary-key-1234", "s3cr3t/+=value", passphrase="pass phrase é", uid="uid-42")
    async with transaction(sessions) as session:
        connection_id = await store_exchange_connection(session, cipher, settings.database.schema_name, key)
    async with transaction(sessions) as session:
        row = (await session.scalars(select(Connection).where(Connection.id == connection_id))).one()
        assert row.key_hint == "1234"
        for column in ("api_key_ct", "api_secret_ct", "passphrase_ct", "uid_ct"):
            assert getattr(row, column).startswith("vault:v1:")
        opened = await credentials.open_key(session, cipher, connection_id)
    assert opened == key
    assert "AKIA" not in repr(opened)
    assert "s3cr3t" not in str(opened.api_secret) + opened.model_dump_json()
    assert "s3cr3t/+=value" in opened.model_dump_json(context=WIRE_CONTEXT)


async def test_same_plaintext_twice_gives_different_ciphertexts(cipher):
    record = uuid.uuid4()
    first = await cipher.encrypt_fields(record, {"api_key": "identical-value"})
    second = await cipher.encrypt_fields(record, {"api_key": "identical-value"})
    assert first["api_key"] != second["api_key"]  # not convergent: equal secrets are not recognisable


@pytest.mark.parametrize("swap", ["between_rows", "between_fields"])
async def test_a_swapped_ciphertext_never_decrypts(cipher, sessions, settings, swap):
    async with transaction(sessions) as session:
        a = await store_exchange_connection(
            session, cipher, settings.database.schema_name, exchange_key("key-a-000A", "secret-a")
        )
        b = await store_exchange_connection(
            session, cipher, settings.database.schema_name, exchange_key("key-b-000B", "secret-b")
        )
    async with transaction(sessions) as session:
        if swap == "between_rows":  # A's api_secret ciphertext copied into B
            statement = (
                "UPDATE connections SET api_secret_ct = (SELECT api_secret_ct FROM connections WHERE id = :a) "
                "WHERE id = :b"
            )
        else:  # B's api_key ciphertext copied into B's api_secret
            statement = "UPDATE connections SET api_secret_ct = api_key_ct WHERE id = :b"
        await session.execute(text(statement), {"a": a, "b": b})
    failures = _metric("tallyhold_vault_decrypt_failures_total", reason="authentication_failed")

    async with transaction(sessions) as session:
        with pytest.raises(CredentialsUnreadable) as refused:
            await credentials.open_key(session, cipher, b)

    assert refused.value.reasons == {"api_secret": "authentication_failed"}
    body = refused.value.body()
    assert body == {
        "error": {
            "code": "credentials_unreadable",
            "message": "The stored credentials of this connection cannot be used; replace them.",
        }
    }
    assert _metric("tallyhold_vault_decrypt_failures_total", reason="authentication_failed") == failures + 1
    async with transaction(sessions) as session:
        row = (await session.scalars(select(Connection).where(Connection.id == b))).one()
        assert (row.status, row.last_error) == ("error", "credentials_unreadable")
        untouched = (await session.scalars(select(Connection).where(Connection.id == a))).one()
        assert untouched.status == "active"


async def test_a_batch_with_one_corrupted_item_reports_it_and_processes_the_rest(cipher):
    count = 2_000
    plaintexts = [f"secret-{i}-{uuid.uuid4().hex}".encode() for i in range(count)]
    contexts = [cipher.context(uuid.uuid4(), "api_secret") for _ in range(count)]
    before = _metric("tallyhold_vault_requests_total", op="encrypt", outcome="ok")
    encrypted = await cipher.encrypt([EncryptItem(f"r{i}", contexts[i], plaintexts[i]) for i in range(count)])
    assert _metric("tallyhold_vault_requests_total", op="encrypt", outcome="ok") - before == count / MAX_BATCH_ITEMS
    assert [r.reference for r in encrypted] == [f"r{i}" for i in range(count)]
    items = [CiphertextItem(f"r{i}", contexts[i], r.value or "") for i, r in enumerate(encrypted)]
    bad = 1_234
    raw = base64.b64decode(items[bad].ciphertext.split(":", 2)[2])
    tampered = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    items[bad] = CiphertextItem(items[bad].reference, items[bad].context, f"vault:v1:{tampered}")

    decrypted = await cipher.decrypt(items)
    rewrapped = await cipher.rewrap(items)

    for results in (decrypted, rewrapped):
        assert len(results) == count
        assert [r.reference for r in results] == [item.reference for item in items]
        assert {r.reference: r.error for r in results if not r.ok} == {f"r{bad}": "authentication_failed"}
    assert [r.value for i, r in enumerate(decrypted) if i != bad] == [p for i, p in enumerate(plaintexts) if i != bad]
    assert all(r.value and r.value.startswith("vault:v") for i, r in enumerate(rewrapped) if i != bad)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=600))
async def test_arbitrary_bytes_round_trip(cipher, data):
    context = cipher.context(uuid.uuid4(), "api_secret")
    [encrypted] = await cipher.encrypt([EncryptItem("x", context, data)])
    assert encrypted.value is not None
    [decrypted] = await cipher.decrypt([CiphertextItem("x", context, encrypted.value)])
    assert decrypted.value == data


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(min_size=1, max_size=300) | st.from_regex(r"[A-Za-z0-9+/=]{6,80}", fullmatch=True))
async def test_arbitrary_unicode_round_trips_through_the_scope(settings, value):
    # A private redaction registry: thousands of random "secrets" must not start masking other tests' logs.
    vault, private = await start_cipher(settings, registry=SecretRegistry())
    try:
        record = uuid.uuid4()
        ciphertexts = await private.encrypt_fields(record, {"api_secret": value})
        async with private.open(record, ciphertexts) as opened:
            assert opened["api_secret"].reveal() == value
    finally:
        await vault.aclose()
