from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.models import Connection
from tallyhold.settings import Settings


class FetchedBalance(BaseModel):
    asset: str = Field(description="Canonical asset code (BTC, ETH, USDT, ...)")
    location: str = Field(description="spot, funding, earn, staked, margin, futures, onchain, ...")
    amount: Decimal = Field(ge=0)
    unconfirmed: Decimal | None = Field(None, ge=0)


class FetchedLiability(BaseModel):
    """An amount the connection owes (borrowed plus interest, negative equity), always positive."""

    asset: str = Field(description="Canonical asset code")
    location: str = Field(description="margin, futures, unified, trading, ...")
    amount: Decimal = Field(gt=0)


class SourceBalances(BaseModel):
    """What every source returns: the complete set of balances of the connection at `observed_at`, and the
    complete set of what it owes (a debt missing from a later answer has been repaid)."""

    balances: list[FetchedBalance]
    observed_at: datetime
    liabilities: list[FetchedLiability] = Field(default_factory=list)
    # Exchange sources re-check the key on each sync and report what they saw (read, trade, withdraw, ...).
    permissions: dict[str, Any] | None = None
    # Non-secret facts worth keeping (block number the reads were pinned to, ip restriction, key expiry).
    facts: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class EgressCall:
    op: str
    request: BaseModel
    venue: str  # what per-venue limits and breakers key on: a ccxt id, or a chain name


class StoredKey(Protocol):
    """A connection's decrypted exchange key as a request builder reads it (`exchanges.verification.ExchangeKey`;
    named by its shape here because the exchanges package imports this module)."""

    @property
    def api_key(self) -> SecretStr: ...

    @property
    def api_secret(self) -> SecretStr: ...

    @property
    def passphrase(self) -> SecretStr | None: ...

    @property
    def uid(self) -> SecretStr | None: ...


class ExchangeKeySource(Protocol):
    async def exchange_key(self, session: AsyncSession, connection: Connection) -> StoredKey:
        """The connection's decrypted key; raises a TallyholdError when it cannot be had."""
        ...


@dataclass
class SourceContext:
    """What a request builder may use. `exchange_keys` decrypts exchange keys (the credential cipher's
    `CipherKeySource`); None when the instance has no Vault, and exchange sources then cannot sync."""

    settings: Settings
    session: AsyncSession
    exchange_keys: ExchangeKeySource | None = None
