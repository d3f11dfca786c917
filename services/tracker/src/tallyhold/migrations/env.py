"""Alembic environment: one customer schema per run, migrated as the schema's owner role, under an advisory
lock so two migrators never race on the same schema."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tallyhold.models import Base

config = context.config
url = config.attributes["url"]
schema: str = config.attributes["schema"]
role: str | None = config.attributes.get("role")


def _not_alembic_bookkeeping(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name == "alembic_version")


engine = create_engine(url, poolclass=NullPool, connect_args={"options": f"-c search_path={schema}"})

with engine.connect() as connection:
    if role:
        connection.execute(text(f'SET ROLE "{role}"'))  # validated identifier (settings / provisioner naming)
    connection.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": f"tallyhold.migrate.{schema}"})
    connection.commit()
    # Unqualified names in generated DDL resolve to the customer's schema (Alembic's multi-tenancy cookbook).
    connection.dialect.default_schema_name = schema
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table_schema=schema,
        include_schemas=False,
        compare_type=True,
        transaction_per_migration=True,
        include_object=_not_alembic_bookkeeping,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.rollback()  # a failed migration leaves the transaction aborted; the unlock must still run
        connection.execute(text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": f"tallyhold.migrate.{schema}"})
        connection.commit()
engine.dispose()
