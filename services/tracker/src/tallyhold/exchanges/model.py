"""What the venue adapters describe and report. Importable by the API process: nothing here touches ccxt."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

Verification = Literal["exchange", "unverifiable"]
Category = Literal["trade", "withdraw", "transfer", "unknown"]


@dataclass(frozen=True)
class Wallet:
    """One wallet type a read-only key can see, as documented in the README's table."""

    location: str  # the `location` its balances carry: spot, funding, earn, staked, margin, futures
    name: str  # what the venue calls it
    endpoint: str  # "GET /api/v3/account"


@dataclass(frozen=True)
class IpLimit:
    """A venue's documented request-weight limit per IP: `weight` per `window_seconds`. Every instance behind one
    egress IP spends from it, so it is shared through the egress budget (the provisioner stores it, egress/budget.py
    spends from it)."""

    weight: int
    window_seconds: int

    # The share of the limit the instances plan to use: the rest is headroom for what the budget does not see
    # (clock skew between our window and the venue's, requests in flight when a window turns).
    PLANNED_SHARE = 0.8

    @property
    def budget(self) -> int:
        return int(self.weight * self.PLANNED_SHARE)


@dataclass(frozen=True)
class VenueInfo:
    id: str  # the ccxt id
    name: str
    verification: Verification
    rule: str  # how read-only is proven (README), one sentence
    # What the customer ticks when creating the key, and what stays unticked, in the venue's own words: one source
    # for the README's table and the web page's guidance.
    enable: str = ""
    leave_off: tuple[str, ...] = ()
    permission_endpoint: str | None = None
    probe: str | None = None  # unverifiable venues: the harmless trade-permission probe, if any
    credentials: tuple[str, ...] = ()  # needed beyond api_key and api_secret: "passphrase", "uid"
    wallets: tuple[Wallet, ...] = ()
    not_covered: str = ""  # what a read-only key cannot show us (README)


class KeyReport(BaseModel):
    """What the exchange said about a key, in our terms plus the venue's own words for what must change."""

    read: bool
    trade: bool | None = Field(description="None: the venue cannot tell")
    withdraw: bool | None
    transfer: bool | None
    verified_by: Verification
    switch_off: list[str] = Field(default_factory=list, description="Permissions to disable, in the venue's words")
    switch_on: list[str] = Field(default_factory=list, description="Read permissions the key lacks")
    ip_restricted: bool | None = None
    key_expires_at: datetime | None = None
    key_created_at: datetime | None = None
    # Non-secret facts the balance fetch needs (e.g. Bybit's account kind); never shown to customers.
    hints: dict[str, str] = Field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.read and not self.switch_off and not self.switch_on

    def permissions(self) -> dict[str, object]:
        """The connection's `permissions` object, as the API returns it."""
        return {
            "read": self.read,
            "trade": self.trade,
            "withdraw": self.withdraw,
            "transfer": self.transfer,
            "verified_by": self.verified_by,
        }


@dataclass
class Findings:
    """Collects what a permission rule saw; `report()` turns it into a KeyReport. Starts from "nothing granted",
    so a rule only has to record what the exchange affirmatively reported."""

    read: bool = False
    trade: bool = False
    withdraw: bool = False
    transfer: bool = False
    switch_off: list[str] = field(default_factory=list)
    switch_on: list[str] = field(default_factory=list)

    def grant(self, category: Category, words: str) -> None:
        """The key has a right we refuse; `words` is how the venue labels it (what the customer must switch off)."""
        if category != "unknown":
            setattr(self, category, True)
        if words not in self.switch_off:
            self.switch_off.append(words)

    def need(self, words: str) -> None:
        if words not in self.switch_on:
            self.switch_on.append(words)

    def report(self, **extra: object) -> KeyReport:
        return KeyReport.model_validate(
            {
                "read": self.read,
                "trade": self.trade,
                "withdraw": self.withdraw,
                "transfer": self.transfer,
                "verified_by": "exchange",
                "switch_off": self.switch_off,
                "switch_on": self.switch_on,
                **extra,
            }
        )


@dataclass(frozen=True)
class Holding:
    """One raw balance line as the venue names it; `assets.canonical` turns the code into ours."""

    asset: str
    location: str
    amount: Decimal


@dataclass(frozen=True)
class LedgerEntry:
    """One movement in a venue's ledger (deposits, withdrawals, trades, staking transfers, rewards)."""

    id: str
    time: datetime | None
    kind: str  # the venue's own type: deposit, withdrawal, trade, transfer, staking, ...
    asset: str
    amount: Decimal  # signed: negative leaves the account
    fee: Decimal


@dataclass
class BalanceSheet:
    """What an adapter read: holdings, per-wallet status, and debts the balance model cannot hold."""

    holdings: list[Holding] = field(default_factory=list)
    wallets: dict[str, str] = field(default_factory=dict)  # wallet name → "ok" | "not_opened"
    liabilities: list[Holding] = field(default_factory=list)

    def add(self, asset: str, location: str, amount: Decimal) -> None:
        if amount:
            self.holdings.append(Holding(asset, location, amount))

    def owe(self, asset: str, location: str, amount: Decimal) -> None:
        if amount:
            self.liabilities.append(Holding(asset, location, amount))

    def net(self, asset: str, location: str, amount: Decimal) -> None:
        """An equity that may be negative (margin, futures): the positive part is held, the rest is owed."""
        if amount > 0:
            self.add(asset, location, amount)
        elif amount < 0:
            self.owe(asset, location, -amount)
