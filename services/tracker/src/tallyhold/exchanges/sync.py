"""The sync request builder for exchange connections (`ExchangeRequests`, given its key source by the runtime).

Runs in the API process inside the engine's transaction: decrypts the key through the credential cipher
that `tallyhold.runtime` hands the sync engine, and asks for the permission re-check when it is due. The worker then
refuses (`write_permissions`, which the engine turns into a quarantine) before it reads a single balance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.egress.protocol import EgressError
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.model import VenueInfo
from tallyhold.exchanges.registry import venue_info
from tallyhold.exchanges.wire import BalancesRequest
from tallyhold.models import Connection
from tallyhold.settings import Settings
from tallyhold.sources.models import EgressCall, SourceContext

# Venues without a permission endpoint are probed (a cancel of an order that cannot exist) at most daily:
# repeated permission errors can trip exchange-side alarms or temporary bans.
PROBE_INTERVAL = timedelta(days=1)


class ExchangeKeySource(Protocol):
    async def exchange_key(self, session: AsyncSession, connection: Connection) -> ExchangeKey:
        """The connection's decrypted key; raises a TallyholdError when it cannot be had."""
        ...


class ExchangeRequests:
    """Builds an exchange connection's balances request; `keys` is None when no credential cipher is configured
    (then every exchange sync fails transient, `credentials_unavailable`, and nothing is sent)."""

    def __init__(self, keys: ExchangeKeySource | None) -> None:
        self.keys = keys

    async def __call__(self, connection: Connection, context: SourceContext) -> EgressCall:
        return await build_request(connection, context, self.keys)


async def build_request(connection: Connection, context: SourceContext, keys: ExchangeKeySource | None) -> EgressCall:
    info = venue_info(connection.exchange or "")
    if info is None:
        raise EgressError.of("unsupported_exchange", "this exchange is not supported")
    if keys is None:
        raise EgressError.of("credentials_unavailable", "no credential cipher is configured", transient=True)
    key = await keys.exchange_key(context.session, connection)
    request = BalancesRequest(
        exchange=info.id,
        key=key,
        check_permissions=permissions_due(connection, info, context.settings, datetime.now(UTC)),
    )
    return EgressCall(op="exchange.balances", request=request, venue=info.id)


def permissions_due(connection: Connection, info: VenueInfo, settings: Settings, now: datetime) -> bool:
    """Whether this sync must re-check the key first: never checked, or the check is older than the cadence."""
    checked = connection.permissions_checked_at
    if checked is None:
        return True
    if info.verification == "unverifiable":
        interval = max(PROBE_INTERVAL, timedelta(seconds=settings.exchanges.permission_check_seconds))
    else:
        interval = timedelta(seconds=settings.exchanges.permission_check_seconds)
    return now - checked >= interval
