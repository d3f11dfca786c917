"""No plaintext column can hold a secret: every column whose name says key, secret,
passphrase or uid is a `_ct` column that the database itself restricts to Vault ciphertext."""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.fixtures.platform import DATABASE

SECRETISH = re.compile(r"(?i)secret|passphrase|password|api_?key|\buid\b|_uid$|^uid|private|mnemonic|seed")
# Columns that look secret-ish by name but hold none: the key's hint (last 4 characters, shown in the API) and
# an access token's SHA-256.
NOT_SECRETS = {("connections", "key_hint"), ("access_tokens", "secret_hash")}


def test_secret_columns_accept_only_ciphertext(postgres, tenant) -> None:
    with postgres.connect(DATABASE) as admin:
        columns = admin.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
            (tenant.schema,),
        ).fetchall()
        checks = admin.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'c' AND connamespace = %s::regnamespace",
            (tenant.schema,),
        ).fetchall()
        suspects = sorted((str(t), str(c)) for t, c in columns if SECRETISH.search(str(c)))
        assert suspects
        for table, column in suspects:
            if (table, column) in NOT_SECRETS:
                continue
            assert column.endswith("_ct"), f"{table}.{column} could hold a secret in clear"
            definitions = [d for rel, d in checks if str(rel).split(".")[-1] == table and column in str(d)]
            assert any("^vault:v[0-9]+:" in str(d) for d in definitions), f"{table}.{column} is not ciphertext-only"

        with pytest.raises(psycopg.errors.CheckViolation):
            admin.execute(
                f"INSERT INTO {tenant.schema}.connections (id, kind, label, exchange, status, api_key_ct, "
                "created_at, updated_at) VALUES (gen_random_uuid(), 'exchange', 'x', 'binance', 'active', "
                "'plain-api-key', now(), now())"
            )
