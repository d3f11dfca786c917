"""The control plane's registry of customers, in its own schema of the admin database.

The slug and the owner's e-mail live here and nowhere else: every Postgres and Vault object of a customer is
named after its opaque id. The registry's database is not the customers' database, so no tenant role can even
see this schema in its catalog (and `REVOKE ALL ON DATABASE … FROM PUBLIC` keeps them from connecting to it).

`journal` is the step journal: every step of every command appends `start` then `done` (or `error`), so a
crash leaves a record of where it stopped; reruns converge by re-checking each step against the real state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tallyhold_provision.naming import TenantNames

SCHEMA = "tallyhold_registry"
BOOTSTRAP_LOCK = "tallyhold.registry.bootstrap"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
CREATE TABLE IF NOT EXISTS {SCHEMA}.customers (
    id               text PRIMARY KEY CHECK (id ~ '^t_[0-9a-f]{{16}}$'),
    slug             text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{{1,30}}[a-z0-9]$'),
    backend          text NOT NULL CONSTRAINT customers_backend_check
                     CHECK (backend IN ('local', 'podman', 'kubernetes')),
    state            text NOT NULL CHECK (state IN ('provisioning', 'active', 'suspended', 'destroying')),
    version          text,
    schema_revision  text,
    owner_email      text CHECK (owner_email IS NULL OR char_length(owner_email) <= 254),
    url              text,
    metrics_url      text,
    backend_state    jsonb NOT NULL DEFAULT '{{}}',
    first_token_at   timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.journal (
    id           bigserial PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES {SCHEMA}.customers (id) ON DELETE CASCADE,
    operation    text NOT NULL,
    step         text NOT NULL,
    event        text NOT NULL CHECK (event IN ('start', 'done', 'error')),
    detail       text,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS journal_customer ON {SCHEMA}.journal (customer_id, id);
-- Registries made before the podman backend existed allow only local and kubernetes: widen their check once.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'customers_backend_check'
                   AND conrelid = '{SCHEMA}.customers'::regclass AND pg_get_constraintdef(oid) LIKE '%podman%') THEN
        ALTER TABLE {SCHEMA}.customers DROP CONSTRAINT IF EXISTS customers_backend_check;
        ALTER TABLE {SCHEMA}.customers ADD CONSTRAINT customers_backend_check
            CHECK (backend IN ('local', 'podman', 'kubernetes'));
    END IF;
END $$;
"""  # noqa: S608 - SCHEMA is this module's constant, not input


class State(StrEnum):
    provisioning = "provisioning"
    active = "active"
    suspended = "suspended"
    destroying = "destroying"


@dataclass
class Customer:
    id: str
    slug: str
    backend: str
    state: State
    version: str | None = None
    schema_revision: str | None = None
    owner_email: str | None = None
    url: str | None = None
    metrics_url: str | None = None
    backend_state: dict[str, Any] = field(default_factory=dict)
    first_token_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def names(self) -> TenantNames:
        return TenantNames(self.id)

    def public(self) -> dict[str, Any]:
        """The row as `list --json` shows it (the e-mail is the operator's own data, so it is included)."""
        return {
            "slug": self.slug,
            "id": self.id,
            "backend": self.backend,
            "state": self.state.value,
            "url": self.url,
            "metrics_url": self.metrics_url,
            "version": self.version,
            "schema_revision": self.schema_revision,
            "owner_email": self.owner_email,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


@dataclass(frozen=True)
class JournalEntry:
    operation: str
    step: str
    event: str
    detail: str | None
    at: datetime


Conn = psycopg.Connection[tuple[object, ...]]
COLUMNS = (
    "id",
    "slug",
    "backend",
    "state",
    "version",
    "schema_revision",
    "owner_email",
    "url",
    "metrics_url",
    "backend_state",
    "first_token_at",
    "created_at",
    "updated_at",
)
# Columns `update()` may write; everything else is set once or by the database.
UPDATABLE = frozenset(
    {"state", "version", "schema_revision", "owner_email", "url", "metrics_url", "backend_state", "first_token_at"}
)
CUSTOMERS = sql.Identifier(SCHEMA, "customers")
JOURNAL = sql.Identifier(SCHEMA, "journal")
SELECT = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), CUSTOMERS)


class Registry:
    """All SQL of the control plane. The connection is in autocommit mode: each call is its own transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def bootstrap(self) -> None:
        # Two first commands at once would race on CREATE TABLE IF NOT EXISTS (pg_type is unique); serialise.
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (BOOTSTRAP_LOCK,))
            self.conn.execute(sql.SQL(DDL))

    def get(self, slug: str) -> Customer | None:
        rows = self._select(sql.SQL("{} WHERE slug = %s").format(SELECT), (slug,))
        return rows[0] if rows else None

    def all(self) -> list[Customer]:
        return self._select(sql.SQL("{} ORDER BY slug").format(SELECT), ())

    def insert(self, customer: Customer) -> Customer:
        self.conn.execute(
            sql.SQL("INSERT INTO {} (id, slug, backend, state, owner_email) VALUES (%s, %s, %s, %s, %s)").format(
                CUSTOMERS
            ),
            (customer.id, customer.slug, customer.backend, customer.state.value, customer.owner_email),
        )
        stored = self.get(customer.slug)
        if stored is None:
            raise RuntimeError("the registry did not keep the row it just inserted")
        return stored

    def update(self, customer: Customer, **changes: Any) -> None:
        """Write the given columns and mirror them on the object."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable registry columns: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "backend_state":
                value = Jsonb(value)
            elif isinstance(value, StrEnum):
                value = value.value
            values[name] = value
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in values
        )
        row = self.conn.execute(
            sql.SQL("UPDATE {} SET {}, updated_at = now() WHERE id = %(id)s RETURNING updated_at").format(
                CUSTOMERS, assignments
            ),
            {**values, "id": customer.id},
        ).fetchone()
        for name, value in changes.items():
            setattr(customer, name, value)
        if row is not None and isinstance(row[0], datetime):
            customer.updated_at = row[0]

    def delete(self, customer: Customer) -> None:
        self.conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(CUSTOMERS), (customer.id,))

    def record(self, customer: Customer, operation: str, step: str, event: str, detail: str | None = None) -> None:
        self.conn.execute(
            sql.SQL("INSERT INTO {} (customer_id, operation, step, event, detail) VALUES (%s, %s, %s, %s, %s)").format(
                JOURNAL
            ),
            (customer.id, operation, step, event, detail),
        )

    def trim_journal(self, customer: Customer, keep: int) -> None:
        self.conn.execute(
            sql.SQL(
                "DELETE FROM {journal} WHERE customer_id = %(id)s AND id < "
                "(SELECT coalesce(min(id), 0) FROM (SELECT id FROM {journal} WHERE customer_id = %(id)s "
                "ORDER BY id DESC LIMIT %(keep)s) AS kept)"
            ).format(journal=JOURNAL),
            {"id": customer.id, "keep": keep},
        )

    def journal(self, customer: Customer, limit: int = 50) -> list[JournalEntry]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                sql.SQL(
                    "SELECT operation, step, event, detail, at FROM {} WHERE customer_id = %s ORDER BY id DESC LIMIT %s"
                ).format(JOURNAL),
                (customer.id, limit),
            )
            return [JournalEntry(**row) for row in reversed(cur.fetchall())]

    def _select(self, query: sql.Composed, params: tuple[object, ...]) -> list[Customer]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return [Customer(**{**row, "state": State(row["state"])}) for row in cur.fetchall()]
