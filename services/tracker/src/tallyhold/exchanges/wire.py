"""Requests and replies of the egress operations `exchange.verify` and `exchange.balances`.

The key travels to the worker on its stdin pipe (egress/__init__.py). `WireKey` keeps every part a SecretStr
(masked in repr, str, logs and `model_dump()`), and reveals the values only when serialised in JSON mode,
which is exactly what `EgressClient.call` does to write the request line.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, field_serializer

from tallyhold.exchanges.model import KeyReport
from tallyhold.logging import secrets
from tallyhold.types import Money


class WireKey(BaseModel):
    api_key: SecretStr
    api_secret: SecretStr
    passphrase: SecretStr | None = None
    uid: SecretStr | None = None

    @field_serializer("api_key", "api_secret", "passphrase", "uid", when_used="json")
    def _reveal(self, value: SecretStr | None) -> str | None:
        return value.get_secret_value() if value is not None else None

    def register(self) -> None:
        """Hand every part to the log redaction filter of this process."""
        for part in (self.api_key, self.api_secret, self.passphrase, self.uid):
            if part is not None:
                secrets.add(part.get_secret_value())


class VerifyRequest(BaseModel):
    exchange: str
    key: WireKey
    acknowledge_unverifiable: bool = False


class VerifyReply(BaseModel):
    report: KeyReport


class BalancesRequest(BaseModel):
    exchange: str
    key: WireKey
    check_permissions: bool = Field(description="Ask the exchange about the key before reading balances")


class LedgerRequest(BaseModel):
    exchange: str
    key: WireKey
    since: datetime | None = None


class LedgerItem(BaseModel):
    id: str
    time: datetime | None
    kind: str = Field(description="The venue's own entry type: deposit, withdrawal, trade, transfer, staking, ...")
    asset: str
    location: str
    amount: Money = Field(description="Signed: negative when it left the account")
    fee: Money


class LedgerReply(BaseModel):
    entries: list[LedgerItem]
