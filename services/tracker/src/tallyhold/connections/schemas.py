from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.verification import Permissions
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


ExchangeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{2,32}$")]


class ExchangeKeyInput(ExchangeKey, StrictInput):
    """An exchange API key as pasted (`ExchangeKey`: SecretStr parts, masked in repr, str, logs and JSON, and
    documented in OpenAPI as write-only password fields), and whether an unverifiable key is accepted."""

    acknowledge_unverifiable: StrictBool = Field(
        False,
        description="Accept a key whose permissions the exchange cannot report (labelled unverifiable).",
    )


class ExchangeConnectionCreate(ExchangeKeyInput):
    exchange: ExchangeId = Field(
        description="The ccxt id of the exchange (`binance`, `kraken`, `okx`, ...; README lists them).",
        examples=["binance"],
    )
    label: Label


class CredentialsReplace(ExchangeKeyInput):
    """A new key for an existing exchange connection (same checks as at creation)."""


class ConnectionUpdate(StrictInput):
    label: Label | None = None
    amount: AmountIn | None = Field(None, description="Manual connections only.")
    price: AmountIn | None = Field(None, description="Manual connections only.")


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
    """One page of connections, oldest first. `next_cursor` is null on the last page; otherwise pass it as
    `cursor` to get the next one."""

    items: list[ConnectionOut]
    next_cursor: str | None = Field(
        None, description="Opaque; pass it back as `cursor` for the next page. Null: this is the last page."
    )
