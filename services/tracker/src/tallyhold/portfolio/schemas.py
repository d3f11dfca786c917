from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tallyhold.types import Money


class BalanceItem(BaseModel):
    asset: str
    amount: Money
    price: Money | None = Field(description="Price of one unit in `quote`; null when the asset is unpriced.")
    value: Money | None = Field(description="amount × price; null when unpriced (never counted as zero).")
    connection_id: uuid.UUID | None = Field(description="Null when grouped by asset.")
    location: str | None = Field(description="spot, earn, staked, onchain, manual, ...; null when grouped.")
    stale: bool = Field(description="True when the source's last sync failed or the price is out of date.")
    unconfirmed: Money | None = None
    price_source: str | None = None
    price_at: datetime | None = None


class Balances(BaseModel):
    quote: str
    group_by: Literal["none", "asset", "connection"]
    items: list[BalanceItem]
    liabilities: list[BalanceItem] = Field(
        default_factory=list,
        description="What is owed (margin borrowing with interest, negative futures or unified-account equity), "
        "grouped like `items`; positive amounts and values, subtracted from net worth.",
    )


class AssetShare(BaseModel):
    asset: str
    amount: Money
    price: Money | None
    value: Money | None
    percent: Money | None = Field(
        description="Share of the gross assets (the total, when nothing is owed), in percent (2 decimals)."
    )


class ConnectionShare(BaseModel):
    connection_id: uuid.UUID
    label: str
    kind: str
    value: Money = Field(description="The connection's priced holdings minus its priced liabilities.")
    percent: Money = Field(
        description='Share of the total (net worth), in percent (2 decimals); "0" when the total is zero. With '
        "debts a share can pass 100 or go below 0, and when debts exceed the assets (a negative total) it is a "
        "share of a negative number: read `value` then."
    )
    stale: bool


class KindShare(BaseModel):
    kind: str
    value: Money = Field(description="Net of the liabilities of connections of this kind.")
    percent: Money = Field(
        description='Share of the total (net worth), in percent (2 decimals); "0" when the total is zero. With '
        "debts a share can pass 100 or go below 0, and when debts exceed the assets (a negative total) it is a "
        "share of a negative number: read `value` then."
    )


class UnpricedHolding(BaseModel):
    asset: str
    amount: Money
    connection_id: uuid.UUID


class NetWorth(BaseModel):
    quote: str
    total: Money = Field(
        description="Net worth: gross_assets − liabilities_total, stale sources included (see stale_sources)."
    )
    gross_assets: Money = Field(description="Sum of every priced holding.")
    liabilities_total: Money = Field(description="Sum of every priced liability (positive); 0 without debts.")
    as_of: datetime | None = Field(description="The oldest balance or price time the total rests on.")
    stale_sources: list[uuid.UUID]
    unpriced: list[UnpricedHolding]
    unpriced_liabilities: list[UnpricedHolding] = Field(
        description="Debts no venue prices: not subtracted from the total, so listed here as well as in liabilities."
    )
    liabilities: list[BalanceItem] = Field(
        description="Every debt by connection, asset and location; one with a null value (unpriced) is not "
        "subtracted from the total."
    )
    by_asset: list[AssetShare]
    by_connection: list[ConnectionShare]
    by_kind: list[KindShare]


class HistoryPoint(BaseModel):
    t: datetime
    total: Money


class NetWorthHistory(BaseModel):
    quote: str
    start: datetime
    end: datetime
    step_seconds: int
    points: list[HistoryPoint]
