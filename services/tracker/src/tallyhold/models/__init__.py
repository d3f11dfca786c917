"""ORM models, one module per table, re-exported here so Alembic sees the whole metadata."""

from tallyhold.models.access_token import AccessToken
from tallyhold.models.audit_event import AuditEvent
from tallyhold.models.balance import Balance
from tallyhold.models.base import Base
from tallyhold.models.connection import Connection
from tallyhold.models.connection_snapshot import ConnectionSnapshot
from tallyhold.models.custom_token import CustomToken
from tallyhold.models.liability import Liability
from tallyhold.models.networth_snapshot import NetWorthSnapshot
from tallyhold.models.price import Price
from tallyhold.models.venue_breaker import VenueBreaker
from tallyhold.models.web_session import WebSession

__all__ = [
    "AccessToken",
    "AuditEvent",
    "Balance",
    "Base",
    "Connection",
    "ConnectionSnapshot",
    "CustomToken",
    "Liability",
    "NetWorthSnapshot",
    "Price",
    "VenueBreaker",
    "WebSession",
]
