from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select, union
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import Balance, Connection, Liability, Price


@dataclass(frozen=True, slots=True)
class PriceRow:
    asset: str
    price: Decimal
    source: str
    observed_at: datetime


class PriceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_assets(self, assets: Iterable[str], quote: str) -> dict[str, PriceRow]:
        wanted = sorted(set(assets))
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(Price.asset, Price.price, Price.source, Price.observed_at).where(
                Price.quote == quote, Price.asset.in_(wanted)
            )
        )
        return {row[0]: PriceRow(*row) for row in rows}

    async def upsert(self, asset: str, quote: str, price: Decimal, source: str, observed_at: datetime) -> None:
        statement = insert(Price).values(asset=asset, quote=quote, price=price, source=source, observed_at=observed_at)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Price.asset, Price.quote],
                set_={
                    "price": statement.excluded.price,
                    "source": statement.excluded.source,
                    "observed_at": statement.excluded.observed_at,
                    "fetched_at": statement.excluded.fetched_at,
                },
                # A late answer from a slower venue never overwrites a newer observation.
                where=Price.observed_at <= statement.excluded.observed_at,
            )
        )

    async def held_assets(self) -> list[str]:
        """Assets that need a market price: every balance except manual holdings priced by the customer, and
        every liability (a debt is subtracted at its market value, so it needs a price like a holding)."""
        owned = (
            select(Balance.asset)
            .join(Connection, Connection.id == Balance.connection_id)
            .where(or_(Connection.kind != "manual", Connection.manual_price.is_(None)))
        )
        assets = union(owned, select(Liability.asset)).subquery()
        return list(await self.session.scalars(select(assets.c.asset).order_by(assets.c.asset)))
