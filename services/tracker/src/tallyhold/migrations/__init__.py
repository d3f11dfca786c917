"""Alembic migrations, versioned inside the customer's schema (its `alembic_version` table too).

`run_migrations()` is what `tallyhold migrate` and the provisioner call; the app never migrates at start-up.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

SCRIPT_LOCATION = Path(__file__).parent
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"


def alembic_config(url: URL | None, schema: str, role: str | None = None) -> Config:
    """`url` may be None for offline uses (listing revisions, checking heads)."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    # Passed as objects, not as options: an ini option would be interpolated and could end up in a log line.
    config.attributes.update(url=url, schema=schema, role=role)
    return config


def run_migrations(url: URL, schema: str, role: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url, schema, role), revision)


def downgrade(url: URL, schema: str, role: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url, schema, role), revision)


def new_revision(url: URL, schema: str, message: str, role: str | None = None) -> None:
    """Autogenerate a migration by comparing the models with a schema migrated to head."""
    command.revision(alembic_config(url, schema, role), message=message, autogenerate=True)
