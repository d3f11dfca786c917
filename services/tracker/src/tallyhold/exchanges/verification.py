"""How an exchange key is proven read-only before anything is stored.

The exchange-connection routes call a `CredentialVerifier`; the exchange connectors provide the real one
(asking each exchange's own permission endpoint through the egress worker). Until a verifier is registered,
`RefuseAllVerifier` refuses every exchange: nothing is ever stored on the strength of a check nobody made.

Verifier errors (all `TallyholdError`s, raised before any cipher call or row write):
    400 unsupported_exchange      the venue is not supported
    422 write_permissions         details: `switch_off` = the permissions to disable, in the exchange's words
    422 invalid_credentials       the exchange rejected the key (bad, revoked, expired)
    422 unverifiable_permissions  no permission endpoint and `acknowledge_unverifiable` was not set
    502 exchange_unavailable      the exchange failed or answered something we could not read
    503 exchange_budget_busy      the egress IP's budget for the exchange is queued further than a check waits
                                  (with Retry-After); the exchange was not asked
    504 exchange_unavailable      the exchange did not answer in time
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from tallyhold.errors import BadRequest
from tallyhold.exchanges.key import ExchangeKey


class Permissions(BaseModel):
    """What the exchange reported about the key. `null` = the exchange cannot tell (venues without a
    permission endpoint: `verified_by` is then `unverifiable`)."""

    read: bool
    trade: bool | None
    withdraw: bool | None
    transfer: bool | None
    verified_by: Literal["exchange", "probe", "unverifiable"]


class KeyVerification(BaseModel):
    permissions: Permissions
    ip_restricted: bool | None = None
    key_expires_at: datetime | None = None
    key_created_at: datetime | None = None
    warnings: list[str] = Field(default_factory=list)


class CredentialVerifier(Protocol):
    async def verify(self, exchange: str, key: ExchangeKey, *, acknowledge_unverifiable: bool) -> KeyVerification:
        """Ask the exchange what the key may do; raise (see module docstring) unless it is read-only."""
        ...


class RefuseAllVerifier:
    async def verify(self, exchange: str, key: ExchangeKey, *, acknowledge_unverifiable: bool) -> KeyVerification:
        raise BadRequest("This exchange is not supported.", code="unsupported_exchange")
