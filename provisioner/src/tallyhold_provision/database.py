"""Per-customer Postgres objects: a schema owned by a NOLOGIN owner role, and a LOGIN app role with DML only.

Every statement is idempotent, so `create` converges whatever state a crash left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tallyhold_provision import egress_budget
from tallyhold_provision.naming import TenantNames

APP_CONNECTION_LIMIT = 20
# Tables the app role may read and append to but never change: the instance's audit trail. The migration that
# made them so (2026-12-06-2110) revokes the same rights; `create` revokes them again after its blanket grant.
APPEND_ONLY_TABLES = ("audit_events",)


@dataclass(frozen=True)
class TenantDatabase:
    names: TenantNames
    database: str
    # The instances that leave through one egress IP share each venue's per-IP budget (egress_budget.py).
    egress_pool: str = field(default_factory=egress_budget.default_pool)

    def harden_database(self, admin: psycopg.Connection[tuple[object, ...]]) -> None:
        """Nobody connects to any database of the cluster, creates in it or makes temp tables unless granted.

        Every database, not only ours: PUBLIC may CONNECT to a new database by default, and a tenant role that
        can reach another database can read whatever that database leaves open to PUBLIC. Re-run on every
        create, so databases added to the cluster later are closed too."""
        names = admin.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall()
        for (name,) in names:
            admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(str(name))))
        admin.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")

    def create(self, admin: psycopg.Connection[tuple[object, ...]], app_password: str) -> None:
        n = self.names
        owner, app, schema = (sql.Identifier(x) for x in (n.owner_role, n.app_role, n.schema))
        db = sql.Identifier(self.database)
        self.harden_database(admin)
        if not _role_exists(admin, n.owner_role):
            admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
        if not _role_exists(admin, n.app_role):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(app))
        # The password travels as a SCRAM verifier computed here, never as text: a server that logs DDL
        # (log_statement, pgaudit, or an error in this very statement) must not log a usable password.
        verifier = admin.pgconn.encrypt_password(app_password.encode(), n.app_role.encode(), b"scram-sha-256")
        admin.execute(
            sql.SQL(
                "ALTER ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT {} "
                "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION NOINHERIT"
            ).format(app, sql.Literal(verifier.decode()), sql.Literal(APP_CONNECTION_LIMIT))
        )
        admin.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(owner))
        admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, app))
        admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(schema, owner))
        admin.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, app))
        admin.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
            ).format(owner, schema, app)
        )
        admin.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
                owner, schema, app
            )
        )
        admin.execute(
            sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC").format(owner)
        )
        # Objects that already exist (a rerun after a crash mid-migration) get the same grants.
        admin.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(schema, app)
        )
        admin.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, app))
        for table in APPEND_ONLY_TABLES:
            if _table_exists(admin, n.schema, table):
                admin.execute(
                    sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
                        sql.Identifier(n.schema, table), app
                    )
                )
        egress_budget.ensure_schema(admin)
        egress_budget.enroll(admin, n.app_role, self.egress_pool)
        admin.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(app, schema))
        admin.execute(sql.SQL("ALTER ROLE {} SET statement_timeout = '15s'").format(app))
        admin.execute(sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = '60s'").format(app))

    def drop(self, admin: psycopg.Connection[tuple[object, ...]]) -> None:
        n = self.names
        owner, app, schema = (sql.Identifier(x) for x in (n.owner_role, n.app_role, n.schema))
        if _role_exists(admin, n.app_role):
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (n.app_role,))
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
        egress_budget.withdraw(admin, n.app_role)
        for role_name, role in ((n.app_role, app), (n.owner_role, owner)):
            if _role_exists(admin, role_name):
                admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(role))
                admin.execute(sql.SQL("DROP ROLE {}").format(role))

    def exists(self, admin: psycopg.Connection[tuple[object, ...]]) -> bool:
        row = admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.names.schema,)).fetchone()
        return row is not None


def _role_exists(admin: psycopg.Connection[tuple[object, ...]], role: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def _table_exists(admin: psycopg.Connection[tuple[object, ...]], schema: str, table: str) -> bool:
    row = admin.execute("SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, table)).fetchone()
    return row is not None
