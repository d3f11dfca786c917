"""The Postgres side of the control plane: which URL reaches what.

The admin URL (a role with CREATEROLE) points at the admin database, which holds the registry; customers'
schemas live in another database of the same server (`TENANT_DATABASE`), created on first use. Instances and
migrations reach the tenant database; nobody but the admin role reaches the admin database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql
from sqlalchemy.engine import URL, make_url

from tallyhold_provision.database import TenantDatabase
from tallyhold_provision.egress_budget import default_pool
from tallyhold_provision.naming import TenantNames

Conn = psycopg.Connection[tuple[object, ...]]
# GRANT/REVOKE on one database object from two sessions at once fails with "tuple concurrently updated":
# the per-customer database step is serialised across customers with this lock.
DDL_LOCK = "tallyhold.provision.ddl"


@dataclass(frozen=True)
class Databases:
    admin_url: str
    tenant_database: str
    instance_host: str | None = None
    egress_pool: str | None = None  # None: one pool per host (egress_budget.default_pool)

    def _url(self, **changes: object) -> URL:
        return make_url(self.admin_url).set(drivername="postgresql", **changes)  # type: ignore[arg-type]  # keyword names are URL fields

    def _psycopg(self, url: URL) -> str:
        return url.render_as_string(hide_password=False)

    def connect_admin(self) -> Conn:
        return psycopg.connect(self.admin_url, autocommit=True, application_name="tallyhold-provision")

    def tenant_admin_url(self) -> str:
        """The admin role on the tenant database (psycopg form)."""
        return self._psycopg(self._url(database=self.tenant_database))

    @contextmanager
    def connect_tenant_db(self) -> Iterator[Conn]:
        with psycopg.connect(self.tenant_admin_url(), autocommit=True, application_name="tallyhold-provision") as conn:
            yield conn

    def app_url(self, names: TenantNames, password: str) -> str:
        url = self._url(
            username=names.app_role,
            password=password,
            database=self.tenant_database,
            host=self.instance_host or make_url(self.admin_url).host,
        )
        return self._psycopg(url)

    def migration_url(self) -> URL:
        """The admin role on the tenant database, for Alembic (which then switches to the schema's owner)."""
        return self._url(database=self.tenant_database).set(drivername="postgresql+psycopg")

    def ensure_tenant_database(self) -> None:
        with self.connect_admin() as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.tenant_database,)).fetchone()
            if exists:
                return
            with suppress(errors.DuplicateDatabase):  # another command created it a moment ago
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.tenant_database)))

    def converge_tenant(self, names: TenantNames, password: str) -> None:
        self.ensure_tenant_database()
        with self.connect_tenant_db() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (DDL_LOCK,))
            try:
                TenantDatabase(names, self.tenant_database, self.egress_pool or default_pool()).create(conn, password)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (DDL_LOCK,))

    def drop_tenant(self, names: TenantNames) -> None:
        with self.connect_admin() as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.tenant_database,)).fetchone()
        if exists:
            with self.connect_tenant_db() as conn:
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (DDL_LOCK,))
                try:
                    TenantDatabase(names, self.tenant_database).drop(conn)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (DDL_LOCK,))
                return
        # No tenant database: only the roles (cluster-wide) can remain.
        with self.connect_admin() as admin:
            for role in (names.app_role, names.owner_role):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
