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


class AssetShare(BaseModel):
    asset: str
    amount: Money
    price: Money | None
    value: Money | None
    percent: Money | None = Field(description="Share of the total, in percent (2 decimals).")


class ConnectionShare(BaseModel):
    connection_id: uuid.UUID
    label: str
    kind: str
    value: Money
    percent: Money
    stale: bool


class KindShare(BaseModel):
    kind: str
    value: Money
    percent: Money


class UnpricedHolding(BaseModel):
    asset: str
    amount: Money
    connection_id: uuid.UUID


class NetWorth(BaseModel):
    quote: str
    total: Money = Field(description="Sum of every priced holding, stale sources included (see stale_sources).")
    as_of: datetime | None = Field(description="The oldest balance or price time the total rests on.")
    stale_sources: list[uuid.UUID]
    unpriced: list[UnpricedHolding]
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
