"""Declarative base. Tables carry no schema: the connection's search_path is the customer's schema, so the
same models serve every customer and nothing can reach `public` or another schema by accident."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, MetaData, Numeric
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations generated on one machine apply cleanly everywhere.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        # Unconstrained NUMERIC: exact at any scale, so an 18-decimal token amount or a 10^30 supply is stored
        # as given. Python side it is always Decimal, never float.
        Decimal: Numeric(asdecimal=True),
        datetime: DateTime(timezone=True),
    }


def utcnow() -> datetime:
    return datetime.now(UTC)
