from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class VenueBreaker(Base):
    """An open circuit breaker for a venue (a ccxt id or a chain). While `open_until` is in the future no call
    goes to the venue from any process of this instance: the scheduler, `POST /v1/sync` or `tallyhold sync`.
    Persisted so a restart does not forget a ban (Binance escalates repeated violations)."""

    __tablename__ = "venue_breakers"

    venue: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))  # banned | rate_limited | failures
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    open_until: Mapped[datetime]
