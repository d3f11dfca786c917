"""`status SLUG`: the health of each part of a customer's stack, checked against the real thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import errors, sql

from tallyhold_provision.backends.base import Backend, Health
from tallyhold_provision.postgres import Databases
from tallyhold_provision.registry import Customer, JournalEntry, State
from tallyhold_provision.vault_plane import SECRET_ID_ACCESSOR_KEY, VaultPlane


@dataclass
class StatusReport:
    customer: Customer
    parts: dict[str, Health]
    last_sync_at: datetime | None = None
    last_step: JournalEntry | None = None  # where the last command got to (a crashed one stopped there)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.customer.state is State.active and all(part.healthy for part in self.parts.values())

    def as_json(self) -> dict[str, Any]:
        return {
            **self.customer.public(),
            "healthy": self.healthy,
            "parts": {
                name: {"healthy": part.healthy, "state": part.state, "detail": part.detail}
                for name, part in self.parts.items()
            },
            "last_sync_at": self.last_sync_at.isoformat() if self.last_sync_at else None,
            "last_step": (
                {"operation": last.operation, "step": last.step, "event": last.event, "at": last.at.isoformat()}
                if (last := self.last_step)
                else None
            ),
        }


def database_health(databases: Databases, customer: Customer, head: str | None) -> Health:
    names = customer.names
    try:
        with databases.connect_tenant_db() as conn:
            roles = conn.execute(
                "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", (names.owner_role, names.app_role)
            ).fetchone()
            if not roles or roles[0] != 2:
                return Health(False, "missing", "a database role is missing")
            schema = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (names.schema,)).fetchone()
            if schema is None:
                return Health(False, "missing", "the schema is missing")
            try:
                row = conn.execute(
                    sql.SQL("SELECT version_num FROM {}.alembic_version").format(sql.Identifier(names.schema))
                ).fetchone()
            except errors.UndefinedTable:
                return Health(False, "unmigrated", "no migration has run")
    except errors.OperationalError:
        return Health(False, "unreachable", "the tenant database does not answer")
    revision = str(row[0]) if row else None
    if revision != head:
        return Health(False, "behind", f"schema at {revision}, code at {head}: run upgrade")
    return Health(True, "ok", f"schema at {revision}")


def last_sync(databases: Databases, customer: Customer, overdue_after: int) -> tuple[Health, datetime | None]:
    """Healthy when no exchange or wallet source is overdue (a new one has its own creation time as grace)."""
    query = sql.SQL(
        "SELECT count(*) FILTER (WHERE kind <> 'manual'), max(last_sync_at), "
        "count(*) FILTER (WHERE kind <> 'manual' AND coalesce(last_sync_at, created_at) < %s) "
        "FROM {}.connections"
    ).format(sql.Identifier(customer.names.schema))
    threshold = datetime.now(UTC) - timedelta(seconds=overdue_after)
    try:
        with databases.connect_tenant_db() as conn:
            row = conn.execute(query, (threshold,)).fetchone()
    except (errors.UndefinedTable, errors.InvalidSchemaName):
        return Health(False, "missing", "no connections table"), None
    except errors.OperationalError:
        return Health(False, "unreachable", "the tenant database does not answer"), None
    assert row is not None
    sources, latest, overdue = int(str(row[0])), row[1], int(str(row[2]))
    at = latest if isinstance(latest, datetime) else None
    if sources == 0:
        return Health(True, "no_sources", "no exchange or wallet connection"), at
    if overdue:
        return Health(False, "overdue", f"{overdue} source(s) not synced for {overdue_after} s"), at
    return Health(True, "ok", None), at


def collect(
    customer: Customer,
    *,
    databases: Databases,
    vault: VaultPlane | None,
    backend: Backend,
    head: str | None,
    overdue_after: int,
    journal: list[JournalEntry],
) -> StatusReport:
    parts: dict[str, Health] = {"db": database_health(databases, customer, head)}
    if vault is None:
        parts["vault"] = Health(False, "not_configured", "no Vault configured")
    else:
        accessor = (
            backend.load_secrets(customer).get(SECRET_ID_ACCESSOR_KEY) if backend.vault_auth == "approle" else None
        )
        parts["vault"] = vault.health(customer.names, backend.vault_auth, accessor)
    if customer.state is State.suspended:
        parts["instance"] = Health(False, "suspended", "resume it to start the instance")
    else:
        parts["instance"] = backend.health(customer)
    parts["last_sync"], at = last_sync(databases, customer, overdue_after)
    return StatusReport(customer=customer, parts=parts, last_sync_at=at, last_step=_last(journal))


def _last(journal: list[JournalEntry]) -> JournalEntry | None:
    return journal[-1] if journal else None
