"""The egress operations `exchange.verify` and `exchange.balances` (run in the egress worker).

Both open one ccxt session for the request (session.py) and turn every failure into an `EgressError` with a
stable code (sources/__init__.py lists them). `write_permissions` carries `switch_off`, the permissions to
disable in the venue's own words; the sync engine quarantines a connection on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tallyhold.egress.budget import POOL_HOLD, POOL_QUEUE
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.exchanges import assets
from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.guard import ForbiddenRequest
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.model import Holding, KeyReport
from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.registry import adapter_for
from tallyhold.exchanges.session import CallPolicy, ForbiddenCall, VenueApi, open_session
from tallyhold.exchanges.venues.base import Adapter, ProbeInconclusive
from tallyhold.exchanges.wire import (
    BalancesRequest,
    LedgerItem,
    LedgerReply,
    LedgerRequest,
    VerifyReply,
    VerifyRequest,
)
from tallyhold.sources.models import FetchedBalance, FetchedLiability, SourceBalances

logger = logging.getLogger("tallyhold.exchanges")
# Deadline of one whole operation inside the worker (every call, retry and backoff included).
DEFAULT_DEADLINE_SECONDS = 60.0


async def verify(request: VerifyRequest, config: EgressConfig) -> VerifyReply:
    adapter = _adapter(request.exchange)
    if adapter.info.verification == "unverifiable" and not request.acknowledge_unverifiable:
        raise EgressError.of("unverifiable_permissions", "the venue has no permission endpoint")
    # A customer waits for this answer: the pool's interactive lane, and a bounded wait for its turn in all.
    policy = replace(CallPolicy.from_config(config), interactive=True)
    async with _session(adapter, request.key, config, policy) as api:
        report = await _inspect(adapter, api)
    _refuse_unless_read_only(report)
    return VerifyReply(report=report)


async def balances(request: BalancesRequest, config: EgressConfig) -> SourceBalances:
    adapter = _adapter(request.exchange)
    report: KeyReport | None = None
    async with _session(adapter, request.key, config) as api:
        if request.check_permissions:
            report = await _inspect(adapter, api)
            _refuse_unless_read_only(report)
        sheet = await adapter.balances(api, report)
        common = api.common_codes
    facts: dict[str, Any] = {"wallets": dict(sorted(sheet.wallets.items()))}
    if report is not None:
        facts["permissions_checked_at"] = datetime.now(UTC).isoformat()
        facts["ip_restricted"] = report.ip_restricted
        facts["key_expires_at"] = report.key_expires_at.isoformat() if report.key_expires_at else None
    return SourceBalances(
        balances=[
            FetchedBalance(asset=asset, location=location, amount=amount)
            for (asset, location), amount in sorted(_aggregate(adapter, sheet.holdings, common).items())
        ],
        observed_at=datetime.now(UTC),
        # Debts are netted per asset and location by the adapters (BalanceSheet.net), then summed like holdings.
        liabilities=[
            FetchedLiability(asset=asset, location=location, amount=amount)
            for (asset, location), amount in sorted(_aggregate(adapter, sheet.liabilities, common).items())
            if amount > 0
        ],
        permissions=report.permissions() if report is not None else None,
        facts=facts,
    )


async def ledger(request: LedgerRequest, config: EgressConfig) -> LedgerReply:
    """The account's ledger (deposits, withdrawals, trades, staking moves), where the venue keeps one that a
    read-only key may read (Kraken: `Ledgers`, never DepositStatus/WithdrawStatus)."""
    adapter = _adapter(request.exchange)
    async with _session(adapter, request.key, config) as api:
        try:
            entries = await adapter.ledger(api, request.since)
        except NotImplementedError:
            raise EgressError.of("not_supported", "this venue's history is not available") from None
        common = api.common_codes
    items = []
    for entry in entries:
        asset, location = assets.canonical(adapter, entry.asset, "spot", common)
        items.append(
            LedgerItem(
                id=entry.id,
                time=entry.time,
                kind=entry.kind,
                asset=asset,
                location=location,
                amount=entry.amount,
                fee=entry.fee,
            )
        )
    return LedgerReply(entries=items)


def _adapter(venue: str) -> Adapter:
    adapter = adapter_for(venue)
    if adapter is None:
        raise EgressError.of("unsupported_exchange", "this exchange is not supported")
    return adapter


async def _inspect(adapter: Adapter, api: VenueApi) -> KeyReport:
    if adapter.info.verification == "exchange":
        return await adapter.check(api)
    return await adapter.probe(api)


def _refuse_unless_read_only(report: KeyReport) -> None:
    if report.switch_off:
        raise EgressError.of(
            "write_permissions",
            "the key can do more than read",
            switch_off=report.switch_off,
            permissions=report.permissions(),
        )
    if report.switch_on or not report.read:
        raise EgressError.of("missing_read_permission", "the key cannot read balances", switch_on=report.switch_on)


def _aggregate(adapter: Adapter, holdings: list[Holding], common: dict[str, str]) -> dict[tuple[str, str], Decimal]:
    """Canonical (asset, location) → summed amount; several venue ids can name one asset (XXBT, XBT.M)."""
    totals: dict[tuple[str, str], Decimal] = {}
    for holding in holdings:
        key = assets.canonical(adapter, holding.asset, holding.location, common)
        totals[key] = totals.get(key, Decimal(0)) + holding.amount
    return {key: amount for key, amount in totals.items() if amount}


@asynccontextmanager
async def _session(
    adapter: Adapter, key: ExchangeKey, config: EgressConfig, policy: CallPolicy | None = None
) -> AsyncIterator[VenueApi]:
    """One ccxt session, with every failure inside it translated to an EgressError and an overall deadline."""
    deadline = float((config.options.get("exchanges") or {}).get("deadline", DEFAULT_DEADLINE_SECONDS))
    try:
        async with asyncio.timeout(deadline), open_session(adapter, key, config, policy) as api:
            yield api
    except CallFailure as failure:
        raise EgressError.of(
            failure.code,
            _MESSAGES.get(failure.code, "the exchange call failed"),
            transient=failure.transient,
            retry_after=failure.retry_after,
            **({"held_by": failure.error_class} if failure.error_class in {POOL_HOLD, POOL_QUEUE} else {}),
        ) from None
    except Malformed as malformed:
        logger.warning("exchange answer malformed", extra={"venue": adapter.info.id, "field": malformed.where})
        raise EgressError.of(
            "malformed_response",
            "the exchange answered something we could not read",
            transient=True,
            field=malformed.where,
        ) from None
    except TimeoutError:
        raise EgressError.of("timeout", "the exchange did not answer in time", transient=True) from None
    except ProbeInconclusive:
        # The venue answered the trade-permission probe with something that proves nothing: refuse the key
        # (verification) or fail the sync and try again later; never assume the harmless reading.
        raise EgressError.of(
            "probe_inconclusive", "the permission probe proved nothing either way", transient=True
        ) from None
    except (ForbiddenCall, ForbiddenRequest) as forbidden:
        # Never reached by a correct adapter; fail loudly (code) but never with the URL (it may carry the key).
        logger.error(
            "forbidden exchange call blocked", extra={"venue": adapter.info.id, "kind": type(forbidden).__name__}
        )
        raise EgressError.of("forbidden_call", "an adapter tried an endpoint it may not call") from None


_MESSAGES = {
    "egress_budget_unavailable": "the exchange budget shared by this host's instances could not be reached",
    "banned": "the exchange has banned requests from this address for a while",
    "rate_limited": "the exchange asked us to slow down",
    "timeout": "the exchange did not answer in time",
    "exchange_unavailable": "the exchange is unavailable",
    "malformed_response": "the exchange answered something we could not read",
    "invalid_credentials": "the exchange rejected the key",
    "permission_denied": "the exchange refused this key access",
    "account_suspended": "the exchange reports the account as suspended",
    "exchange_rejected": "the exchange rejected the request",
    "order_not_found": "unexpected order answer",
}
