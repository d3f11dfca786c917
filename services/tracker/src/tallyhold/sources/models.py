from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from tallyhold.egress.protocol import WireMessage

if TYPE_CHECKING:  # the egress worker imports this module too, and has no database: SQLAlchemy stays out of it
    from sqlalchemy.ext.asyncio import AsyncSession

    from tallyhold.settings import Settings


class FetchedBalance(WireMessage):
    asset: str = Field(description="Canonical asset code (BTC, ETH, USDT, ...)")
    location: str = Field(description="spot, funding, earn, staked, margin, futures, onchain, ...")
    amount: Decimal = Field(ge=0)
    unconfirmed: Decimal | None = Field(None, ge=0)


class FetchedLiability(WireMessage):
    """An amount the connection owes (borrowed plus interest, negative equity), always positive."""

    asset: str = Field(description="Canonical asset code")
    location: str = Field(description="margin, futures, unified, trading, ...")
    amount: Decimal = Field(gt=0)


class SourceBalances(WireMessage):
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


@dataclass
class SourceContext:
    """What every request builder may use: the settings and the engine's open transaction. A builder that needs
    a service of its own domain (the exchange one: the key source) is given it when the runtime builds it."""

    settings: Settings
    session: AsyncSession
