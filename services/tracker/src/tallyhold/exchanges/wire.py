"""Requests and replies of the egress operations `exchange.verify` and `exchange.balances`.

The key travels to the worker on its stdin pipe (egress/__init__.py) as an `ExchangeKey` (exchanges/key.py):
masked in every dump but the request line `EgressClient.call` writes.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tallyhold.egress.protocol import WireMessage
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.model import KeyReport
from tallyhold.types import Money


class VerifyRequest(WireMessage):
    exchange: str
    key: ExchangeKey
    acknowledge_unverifiable: bool = False


class VerifyReply(WireMessage):
    report: KeyReport


class BalancesRequest(WireMessage):
    exchange: str
    key: ExchangeKey
    check_permissions: bool = Field(description="Ask the exchange about the key before reading balances")


class LedgerRequest(WireMessage):
    exchange: str
    key: ExchangeKey
    since: datetime | None = None


class LedgerItem(WireMessage):
    id: str
    time: datetime | None
    kind: str = Field(description="The venue's own entry type: deposit, withdrawal, trade, transfer, staking, ...")
    asset: str
    location: str
    amount: Money = Field(description="Signed: negative when it left the account")
    fee: Money


class LedgerReply(WireMessage):
    entries: list[LedgerItem]
