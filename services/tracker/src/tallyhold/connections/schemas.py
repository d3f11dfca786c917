from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tallyhold.types import AmountIn, AssetCode, Label, Money

ConnectionKind = Literal["exchange", "wallet", "manual"]
ConnectionStatus = Literal["active", "error", "quarantined"]


class StrictInput(BaseModel):
    """Request bodies: unknown fields are refused, nothing is coerced from an unexpected type."""

    model_config = ConfigDict(extra="forbid")


class ManualConnectionCreate(StrictInput):
    label: Label
    asset: AssetCode = Field(description="What is held: `USD`, `XAU`, `AAPL`, `BTC`, ...")
    amount: AmountIn
    price: AmountIn | None = Field(
        None,
        description="Price of one unit in the instance's quote currency; omitted = priced from the market "
        "when the asset is listed, else reported as unpriced.",
    )


class ConnectionUpdate(StrictInput):
    label: Label | None = None
    amount: AmountIn | None = Field(None, description="Manual connections only.")
    price: AmountIn | None = Field(None, description="Manual connections only.")


class Permissions(BaseModel):
    """What the exchange reported about the key. `null` = the exchange cannot tell (venues without a
    permission endpoint: `verified_by` is then `unverifiable`)."""

    read: bool
    trade: bool | None
    withdraw: bool | None
    transfer: bool | None
    verified_by: Literal["exchange", "probe", "unverifiable"]


class ManualHolding(BaseModel):
    asset: str
    amount: Money
    price: Money | None
    quote: str | None


class ConnectionOut(BaseModel):
    """A connection as the API shows it. No field ever holds a secret: only `key_hint` (the last four
    characters of the API key) identifies a key."""

    id: uuid.UUID
    kind: ConnectionKind
    label: str
    status: ConnectionStatus
    exchange: str | None = None
    chain: str | None = None
    address: str | None = None
    key_hint: str | None = None
    permissions: Permissions | None = None
    ip_restricted: bool | None = None
    key_expires_at: datetime | None = None
    key_age_days: int | None = None
    manual: ManualHolding | None = None
    warnings: list[str] = Field(default_factory=list)
    last_sync_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime


class ConnectionList(BaseModel):
    items: list[ConnectionOut]
