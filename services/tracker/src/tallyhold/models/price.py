from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tallyhold.models.base import Base, utcnow


class Price(Base):
    """The latest price of an asset in a quote currency, with where and when it was observed."""

    __tablename__ = "prices"
    __table_args__ = (CheckConstraint("price >= 0", name="price_not_negative"),)

    asset: Mapped[str] = mapped_column(String(32), primary_key=True)
    quote: Mapped[str] = mapped_column(String(8), primary_key=True)
    price: Mapped[Decimal]
    # "kraken:BTC/USD", or a chain of tickers "binance:ETH/USDT*kraken:USDT/USD" when converted.
    source: Mapped[str] = mapped_column(String(200))
    observed_at: Mapped[datetime]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
