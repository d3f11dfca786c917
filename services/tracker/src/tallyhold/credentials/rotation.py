"""Key rotation for one tenant: rotate, rewrap every ciphertext it stores, raise `min_decryption_version`.

Called by the provisioner (`tallyhold-provision rotate-key`) with its privileged hvac client and an autocommit
psycopg connection that can write the tenant's schema. The steps:

1. rotate the key, unless a previous rotation did not finish (min_decryption_version < latest version): then
   finish that one instead, so a rerun after a crash converges rather than piling up versions;
2. select rows whose secret columns are not `vault:v<latest>:`, rewrap them in Vault in batches of ≤200 with
   each row's own derivation context (plaintext never leaves Vault);
3. write back with `UPDATE … WHERE id = ? AND <column> = <old ciphertext>`: a concurrent edit by the customer
   wins, and its row is simply looked at again on the next pass;
4. under the exclusive credential lock (see `locks`), rewrap what is still stale, then raise
   `min_decryption_version` to the latest version: from then on the old ciphertexts are refused.

A ciphertext that Vault refuses to rewrap (tampered, swapped) is reported in `RewrapIncomplete` by reference
(`<connection id>:<field>`), after every other row is done; the minimum version is then left alone, so nothing
that still decrypts today is made unreadable by the rotation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import hvac
import psycopg
from psycopg import sql

from tallyhold.credentials import transit
from tallyhold.credentials.context import COLUMNS, FIELDS, derivation_context
from tallyhold.credentials.errors import RewrapIncomplete
from tallyhold.credentials.lifecycle import TenantVault, read_key, rotate_key, set_min_decryption_version
from tallyhold.credentials.locks import EXCLUSIVE_SQL, UNLOCK_SQL, lock_key

TABLE = "connections"
PAGE_ROWS = 2000
MAX_PASSES = 50


@dataclass
class RotationReport:
    rotated: bool  # False: this call finished an interrupted rotation instead of starting a new one
    latest_version: int
    min_decryption_version: int
    rewrapped: int = 0
    passes: int = 0
    conflicts: int = 0  # rows edited concurrently (their new value was kept and re-examined)
    failed: dict[str, str] = field(default_factory=dict)


def rotate_and_rewrap(
    admin: hvac.Client, tenant: TenantVault, connection: psycopg.Connection[tuple[object, ...]], schema: str
) -> RotationReport:
    if not connection.autocommit:
        raise ValueError("rotation needs an autocommit connection: each rewrapped chunk commits on its own")
    info = read_key(admin, tenant)
    if info is None:
        raise LookupError(f"transit key {tenant.key} does not exist")
    rotated = info.min_decryption_version >= info.latest_version
    if rotated:
        info = rotate_key(admin, tenant)
    report = RotationReport(rotated, info.latest_version, info.min_decryption_version)
    rewrap_stale_rows(admin, tenant, connection, schema, info.latest_version, report)
    with _exclusive(connection, schema):
        # No credential write is in flight now; whatever is still stale was written before the rotation.
        rewrap_stale_rows(admin, tenant, connection, schema, info.latest_version, report)
        if report.failed:
            raise RewrapIncomplete(report.failed)
        set_min_decryption_version(admin, tenant, info.latest_version)
    report.min_decryption_version = info.latest_version
    return report


def rewrap_stale_rows(
    admin: hvac.Client,
    tenant: TenantVault,
    connection: psycopg.Connection[tuple[object, ...]],
    schema: str,
    version: int,
    report: RotationReport,
) -> None:
    """Passes over the table until no row has a ciphertext older than `version` (except refused ones)."""
    current = f"vault:v{version}:%"
    for _ in range(MAX_PASSES):
        report.passes += 1
        stale = 0
        for rows in _stale_pages(connection, schema, current):
            items = [
                transit.CiphertextItem(
                    reference=f"{row_id}:{name}",
                    context=derivation_context(tenant.customer_id, row_id, name),
                    ciphertext=value,
                )
                for row_id, values in rows
                for name, value in values.items()
                if not value.startswith(current[:-1]) and f"{row_id}:{name}" not in report.failed
            ]
            stale += len(items)
            results = transit.rewrap(admin, tenant.transit_mount, tenant.key, items)
            _write_back(connection, schema, items, results, report)
        if stale == 0:
            return
    raise RuntimeError("rotation did not converge: ciphertexts keep changing under it")


def count_stale(connection: psycopg.Connection[tuple[object, ...]], schema: str, version: int) -> int:
    """Rows holding at least one ciphertext that is not of key version `version` (0 once a rotation is done)."""
    current = f"vault:v{version}:%"
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(_table(schema), _stale_condition())
    row = connection.execute(query, {"current": current}).fetchone()
    return int(str(row[0])) if row else 0


def _stale_condition() -> sql.Composable:
    return sql.SQL(" OR ").join(
        sql.SQL("{} NOT LIKE %(current)s").format(sql.Identifier(COLUMNS[name])) for name in FIELDS
    )


def _table(schema: str) -> sql.Composable:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(TABLE))


def _stale_pages(
    connection: psycopg.Connection[tuple[object, ...]], schema: str, current: str
) -> Iterator[list[tuple[str, dict[str, str]]]]:
    columns = sql.SQL(", ").join(sql.Identifier(COLUMNS[name]) for name in FIELDS)
    query = sql.SQL("SELECT id::text, {} FROM {} WHERE id > %(after)s AND ({}) ORDER BY id LIMIT %(limit)s").format(
        columns, _table(schema), _stale_condition()
    )
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        fetched = connection.execute(query, {"after": after, "current": current, "limit": PAGE_ROWS}).fetchall()
        if not fetched:
            return
        page: list[tuple[str, dict[str, str]]] = []
        for row in fetched:
            values = {name: str(value) for name, value in zip(FIELDS, row[1:], strict=True) if value is not None}
            page.append((str(row[0]), values))
        yield page
        after = str(fetched[-1][0])


def _write_back(
    connection: psycopg.Connection[tuple[object, ...]],
    schema: str,
    items: list[transit.CiphertextItem],
    results: list[transit.ItemResult[str]],
    report: RotationReport,
) -> None:
    by_column: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for item, result in zip(items, results, strict=True):
        if not result.ok or result.value is None:
            report.failed[item.reference] = result.error or "rejected"
            continue
        row_id, _, name = item.reference.partition(":")
        ids, olds, news = by_column.setdefault(COLUMNS[name], ([], [], []))
        ids.append(row_id)
        olds.append(item.ciphertext)
        news.append(result.value)
    for column, (ids, olds, news) in by_column.items():
        statement = sql.SQL(
            "UPDATE {table} AS c SET {col} = v.new "
            "FROM (SELECT unnest(%(ids)s::uuid[]) AS id, unnest(%(olds)s::text[]) AS old, "
            "unnest(%(news)s::text[]) AS new) AS v "
            "WHERE c.id = v.id AND c.{col} = v.old"
        ).format(table=_table(schema), col=sql.Identifier(column))
        with connection.transaction():
            cursor = connection.execute(statement, {"ids": ids, "olds": olds, "news": news})
        report.rewrapped += cursor.rowcount
        report.conflicts += len(ids) - cursor.rowcount


@contextmanager
def _exclusive(connection: psycopg.Connection[tuple[object, ...]], schema: str) -> Iterator[None]:
    key = lock_key(schema)
    connection.execute(EXCLUSIVE_SQL, key)
    try:
        yield
    finally:
        connection.execute(UNLOCK_SQL, key)
