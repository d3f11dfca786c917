"""Key rotation for one tenant: rotate, rewrap every ciphertext it stores, raise `min_decryption_version`.

Called by `tallyhold-provision rotate-key` (vault.py) with its privileged hvac client and an autocommit psycopg
connection that can write the tenant's schema (its SQL: ciphertexts.py). The steps:

1. rotate the key, unless a previous rotation did not finish (min_decryption_version < latest version): then
   finish that one instead, so a rerun after a crash converges rather than piling up versions;
2. select rows whose secret columns are not `vault:v<latest>:`, rewrap them in Vault in batches of ≤200 with
   each row's own derivation context (plaintext never leaves Vault);
3. write back with `UPDATE … WHERE id = ? AND <column> = <old ciphertext>`: a concurrent edit by the customer
   wins, and its row is simply looked at again on the next pass;
4. under the exclusive credential lock (tallyhold.credentials.locks), rewrap what is still stale, then raise
   `min_decryption_version` to the latest version: from then on the old ciphertexts are refused.

A ciphertext that Vault refuses to rewrap (tampered, swapped) is reported in `RewrapIncomplete` by reference
(`<connection id>:<field>`), after every other row is done; the minimum version is then left alone, so nothing
that still decrypts today is made unreadable by the rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hvac
import psycopg

from tallyhold.credentials import transit
from tallyhold.credentials.context import COLUMNS, derivation_context
from tallyhold_provision.ciphertexts import CiphertextRepository
from tallyhold_provision.tenant_vault import TenantVault, read_key, rotate_key, set_min_decryption_version

MAX_PASSES = 50


class RewrapIncomplete(RuntimeError):
    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = failed  # reference ("<connection id>:<field>") -> reason code
        super().__init__(f"{len(failed)} ciphertext(s) could not be rewrapped: {sorted(failed)[:20]}")


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
    rows = CiphertextRepository(connection, schema)
    info = read_key(admin, tenant)
    if info is None:
        raise LookupError(f"transit key {tenant.key} does not exist")
    rotated = info.min_decryption_version >= info.latest_version
    if rotated:
        info = rotate_key(admin, tenant)
    report = RotationReport(rotated, info.latest_version, info.min_decryption_version)
    rewrap_stale_rows(admin, tenant, rows, info.latest_version, report)
    with rows.exclusive():
        # No credential write is in flight now; whatever is still stale was written before the rotation.
        rewrap_stale_rows(admin, tenant, rows, info.latest_version, report)
        if report.failed:
            raise RewrapIncomplete(report.failed)
        set_min_decryption_version(admin, tenant, info.latest_version)
    report.min_decryption_version = info.latest_version
    return report


def rewrap_stale_rows(
    admin: hvac.Client, tenant: TenantVault, rows: CiphertextRepository, version: int, report: RotationReport
) -> None:
    """Passes over the table until no row has a ciphertext older than `version` (except refused ones)."""
    current = _current(version)
    for _ in range(MAX_PASSES):
        report.passes += 1
        stale = 0
        for page in rows.stale_pages(current):
            items = [
                transit.CiphertextItem(
                    reference=f"{row_id}:{name}",
                    context=derivation_context(tenant.customer_id, row_id, name),
                    ciphertext=value,
                )
                for row_id, values in page
                for name, value in values.items()
                if not value.startswith(current[:-1]) and f"{row_id}:{name}" not in report.failed
            ]
            stale += len(items)
            results = transit.rewrap(admin, tenant.transit_mount, tenant.key, items)
            _write_back(rows, items, results, report)
        if stale == 0:
            return
    raise RuntimeError("rotation did not converge: ciphertexts keep changing under it")


def count_stale(connection: psycopg.Connection[tuple[object, ...]], schema: str, version: int) -> int:
    """Rows holding at least one ciphertext that is not of key version `version` (0 once a rotation is done)."""
    return CiphertextRepository(connection, schema).count_stale(_current(version))


def _current(version: int) -> str:
    return f"vault:v{version}:%"


def _write_back(
    rows: CiphertextRepository,
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
        written = rows.replace(column, ids, olds, news)
        report.rewrapped += written
        report.conflicts += len(ids) - written
