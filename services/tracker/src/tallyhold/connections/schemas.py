from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, SecretStr, StrictBool, StringConstraints, field_validator

from tallyhold.exchanges import keyformat
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


def _documented(min_length: int, max_length: int, pattern: str) -> dict[str, JsonValue]:
    """OpenAPI for a key field whose checks run in code (`_length` below, `exchanges.keyformat` with its own
    error code): the document states them, so clients and fuzzers know what is accepted."""
    return {"minLength": min_length, "maxLength": max_length, "pattern": pattern}


class ExchangeKeyInput(StrictInput):
    """An exchange API key as pasted. Every field is a SecretStr: masked in repr, str, logs and JSON, and
    documented in OpenAPI as a write-only password field without example. Surrounding whitespace (a pasted
    newline) is dropped. Short values are refused: they could not be told apart from ordinary text when
    masking logs, and no exchange issues them."""

    api_key: SecretStr = Field(
        description="The API key (its last 4 characters become `key_hint`).",
        json_schema_extra=_documented(6, 4096, keyformat.VISIBLE_ASCII),
    )
    api_secret: SecretStr = Field(
        description="The API secret or private key (a PEM key may span lines).",
        json_schema_extra=_documented(6, 4096, keyformat.TEXT_LINES),
    )
    passphrase: SecretStr | None = Field(
        None,
        description="The key's passphrase, where the exchange has one.",
        json_schema_extra=_documented(6, 4096, keyformat.PRINTABLE_ASCII),
    )
    uid: SecretStr | None = Field(
        None,
        description="The account or key id, where the exchange needs one.",
        json_schema_extra=_documented(1, 256, keyformat.VISIBLE_ASCII),
    )
    acknowledge_unverifiable: StrictBool = Field(
        False,
        description="Accept a key whose permissions the exchange cannot report (labelled unverifiable).",
    )

    @field_validator("api_key", "api_secret", "passphrase", "uid", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_key", "api_secret", "passphrase")
    @classmethod
    def _length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 6 <= len(value.get_secret_value()) <= 4096:
            raise ValueError("must be between 6 and 4096 characters")
        return value

    @field_validator("uid")
    @classmethod
    def _uid_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not 1 <= len(value.get_secret_value()) <= 256:
            raise ValueError("must be between 1 and 256 characters")
        return value


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
