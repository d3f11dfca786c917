"""The SQL of a key rotation: one tenant's secret columns, read and rewritten over the provisioner's connection.

The connection is psycopg's, in autocommit (each rewrapped chunk commits on its own, so a crash loses at most
one chunk, which the next pass finds stale again), and set to the schema's owner role by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from tallyhold.credentials.context import COLUMNS, FIELDS
from tallyhold.credentials.locks import EXCLUSIVE_SQL, UNLOCK_SQL, lock_key

TABLE = "connections"
PAGE_ROWS = 2000
FIRST_ID = "00000000-0000-0000-0000-000000000000"

# (connection id, {field: ciphertext}) for the fields a row holds
Row = tuple[str, dict[str, str]]


class CiphertextRepository:
    def __init__(self, connection: psycopg.Connection[tuple[object, ...]], schema: str) -> None:
        self.connection = connection
        self.schema = schema

    def stale_pages(self, current: str) -> Iterator[list[Row]]:
        """Rows with a ciphertext that is not LIKE `current` (`vault:v<latest>:%`), by id, a page at a time."""
        columns = sql.SQL(", ").join(sql.Identifier(COLUMNS[name]) for name in FIELDS)
        query = sql.SQL("SELECT id::text, {} FROM {} WHERE id > %(after)s AND ({}) ORDER BY id LIMIT %(limit)s").format(
            columns, self._table(), _stale_condition()
        )
        after = FIRST_ID
        while True:
            fetched = self.connection.execute(
                query, {"after": after, "current": current, "limit": PAGE_ROWS}
            ).fetchall()
            if not fetched:
                return
            page: list[Row] = []
            for row in fetched:
                values = {name: str(value) for name, value in zip(FIELDS, row[1:], strict=True) if value is not None}
                page.append((str(row[0]), values))
            yield page
            after = str(fetched[-1][0])

    def count_stale(self, current: str) -> int:
        query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(self._table(), _stale_condition())
        row = self.connection.execute(query, {"current": current}).fetchone()
        return int(str(row[0])) if row else 0

    def replace(self, column: str, ids: list[str], olds: list[str], news: list[str]) -> int:
        """Writes `news` where the cell still holds `olds` (a concurrent edit by the customer wins); returns how
        many rows were written, in one transaction."""
        statement = sql.SQL(
            "UPDATE {table} AS c SET {col} = v.new "
            "FROM (SELECT unnest(%(ids)s::uuid[]) AS id, unnest(%(olds)s::text[]) AS old, "
            "unnest(%(news)s::text[]) AS new) AS v "
            "WHERE c.id = v.id AND c.{col} = v.old"
        ).format(table=self._table(), col=sql.Identifier(column))
        with self.connection.transaction():
            cursor = self.connection.execute(statement, {"ids": ids, "olds": olds, "news": news})
        return cursor.rowcount

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The exclusive credential lock (tallyhold.credentials.locks): no credential write is in flight inside."""
        key = lock_key(self.schema)
        self.connection.execute(EXCLUSIVE_SQL, key)
        try:
            yield
        finally:
            self.connection.execute(UNLOCK_SQL, key)

    def _table(self) -> sql.Composable:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(TABLE))


def _stale_condition() -> sql.Composable:
    return sql.SQL(" OR ").join(
        sql.SQL("{} NOT LIKE %(current)s").format(sql.Identifier(COLUMNS[name])) for name in FIELDS
    )
