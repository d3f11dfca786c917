"""Seeding exchange rows with real ciphertexts, for tests below the API routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import hvac
import psycopg
from psycopg import sql

from tallyhold.credentials import transit
from tallyhold.credentials.context import derivation_context
from tallyhold_provision.tenant_vault import TenantVault


def seed_exchange_rows(
    client: hvac.Client,
    names: TenantVault,
    connection: psycopg.Connection,
    schema: str,
    count: int,
    *,
    fields: tuple[str, ...] = ("api_key", "api_secret"),
) -> dict[str, dict[str, bytes]]:
    """`count` exchange connections whose secret columns hold real ciphertexts; returns id → field → plaintext."""
    plain = {str(uuid.uuid4()): {f: f"{f}-{i}-{uuid.uuid4().hex}".encode() for f in fields} for i in range(count)}
    items = [
        transit.EncryptItem(f"{row}:{f}", derivation_context(names.customer_id, row, f), value)
        for row, values in plain.items()
        for f, value in values.items()
    ]
    results = transit.encrypt(client, names.transit_mount, names.key, items)
    assert all(r.ok for r in results)
    cts: dict[str, dict[str, str]] = {}
    for result in results:
        row, _, f = result.reference.partition(":")
        assert result.value is not None
        cts.setdefault(row, {})[f] = result.value
    columns = [f"{f}_ct" for f in fields]
    statement = sql.SQL(
        "INSERT INTO {}.connections (id, kind, label, exchange, status, {}, created_at, updated_at) "
        "VALUES (%s, 'exchange', 'seeded', 'binance', 'active', {}, %s, %s)"
    ).format(
        sql.Identifier(schema),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.executemany(statement, [(row, *(cts[row][f] for f in fields), now, now) for row in plain])
    return plain


def read_ciphertexts(connection: psycopg.Connection, schema: str) -> dict[str, dict[str, str]]:
    query = sql.SQL("SELECT id::text, api_key_ct, api_secret_ct, passphrase_ct, uid_ct FROM {}.connections").format(
        sql.Identifier(schema)
    )
    out: dict[str, dict[str, str]] = {}
    for row in connection.execute(query).fetchall():
        values = dict(zip(("api_key", "api_secret", "passphrase", "uid"), row[1:], strict=True))
        out[str(row[0])] = {k: str(v) for k, v in values.items() if v is not None}
    return out


def decrypt_all(
    client: hvac.Client, names: TenantVault, ciphertexts: dict[str, dict[str, str]]
) -> dict[str, dict[str, bytes | None]]:
    items = [
        transit.CiphertextItem(f"{row}:{f}", derivation_context(names.customer_id, row, f), ct)
        for row, values in ciphertexts.items()
        for f, ct in values.items()
    ]
    out: dict[str, dict[str, bytes | None]] = {}
    for result in transit.decrypt(client, names.transit_mount, names.key, items):
        row, _, f = result.reference.partition(":")
        out.setdefault(row, {})[f] = result.value
    return out
