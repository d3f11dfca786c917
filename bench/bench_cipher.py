"""The credential cipher against a local OpenBao: encrypt, decrypt and rewrap throughput (items/s), one item
per request versus batches of 200, through the instance's own path (VaultSession + CredentialCipher: a worker
thread per call, metrics, timeouts); and a key rotation of 10,000 stored credentials (20,000 ciphertexts) with
the provisioner's `rotate_and_rewrap` against a real Postgres schema.

Targets (issue 3): batched throughput ≥ 20× single-call throughput; a rotation of 10,000 credentials < 10 s.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.transit import CiphertextItem, EncryptItem, ItemResult
from tallyhold.credentials.vault import VaultSession
from tallyhold.logging import SecretRegistry
from tallyhold_provision import rotation
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.ciphertexts import seed_exchange_rows
from tests.fixtures.instance import instance_settings
from tests.fixtures.platform import DATABASE, create_tenant
from tests.fixtures.vault import provision_vault_tenant

SINGLE_ITEMS = 400
BATCH = 200
BATCHED_ITEMS = 10_000
CREDENTIALS = 10_000
TARGET_RATIO = 20.0
TARGET_ROTATION_S = 10.0


async def _throughput(cipher: CredentialCipher) -> dict[str, tuple[float, float]]:
    def items(count: int) -> list[EncryptItem]:
        return [
            EncryptItem(str(i), cipher.context(uuid.uuid4(), "api_secret"), f"secret-{i}-{uuid.uuid4().hex}".encode())
            for i in range(count)
        ]

    async def rate(op: str, batch: list[Any], size: int) -> float:
        runs: dict[str, Callable[[list[Any]], Awaitable[list[ItemResult[Any]]]]] = {
            "encrypt": cipher.encrypt,
            "decrypt": cipher.decrypt,
            "rewrap": cipher.rewrap,
        }
        run = runs[op]
        started = time.perf_counter()
        for start in range(0, len(batch), size):
            results = await run(batch[start : start + size])
            assert all(r.ok for r in results)
        return len(batch) / (time.perf_counter() - started)

    figures: dict[str, tuple[float, float]] = {}
    for count, size in ((SINGLE_ITEMS, 1), (BATCHED_ITEMS, BATCH)):
        plain = items(count)
        encrypted = await cipher.encrypt(plain)
        stored = [CiphertextItem(p.reference, p.context, r.value or "") for p, r in zip(plain, encrypted, strict=True)]
        for op, batch in (("encrypt", plain), ("decrypt", stored), ("rewrap", stored)):
            single, batched = figures.get(op, (0.0, 0.0))
            measured = await rate(op, batch, size)
            figures[op] = (measured, batched) if size == 1 else (single, measured)
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-cipher-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        postgres = LocalPostgres(root / "postgres")
        bao = LocalOpenBao(root / "openbao")
        postgres.start()
        bao.start()
        try:
            tenant = create_tenant(postgres)
            vault = provision_vault_tenant(bao, tenant.customer_id)
            settings = instance_settings(tenant, **vault.settings(), LOG_LEVEL="WARNING")

            async def measure() -> dict[str, tuple[float, float]]:
                session = VaultSession(settings)
                await session.start()
                try:
                    cipher = CredentialCipher(
                        session, customer_id=tenant.customer_id, key=vault.names.key, registry=SecretRegistry()
                    )
                    return await _throughput(cipher)
                finally:
                    await session.aclose()

            figures = asyncio.run(measure())
            header = f"{'operation':<10}{'single items/s':>16}{'batched items/s':>17}{'ratio':>9}"
            print(f"{header}   target ≥ {TARGET_RATIO:.0f}×")
            for op, (single, batched) in figures.items():
                ratio = batched / single
                verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
                print(f"{op:<10}{single:>16,.0f}{batched:>17,.0f}{ratio:>8.1f}×   {verdict}")

            admin = bao.admin_client()
            with postgres.connect(DATABASE) as connection:
                started = time.perf_counter()
                seed_exchange_rows(admin, vault.names, connection, tenant.schema, CREDENTIALS)
                seeded = time.perf_counter() - started
                started = time.perf_counter()
                report = rotation.rotate_and_rewrap(admin, vault.names, connection, tenant.schema)
                took = time.perf_counter() - started
            verdict = "ok" if took < TARGET_ROTATION_S else "ABOVE TARGET"
            print(
                f"rotation of {CREDENTIALS:,} credentials ({report.rewrapped:,} ciphertexts rewrapped, "
                f"{report.passes} passes): {took:.2f} s ({report.rewrapped / took:,.0f} ciphertexts/s)   "
                f"target < {TARGET_ROTATION_S:.0f} s: {verdict}   (seeding them took {seeded:.2f} s)"
            )
        finally:
            bao.stop()
            postgres.stop()
