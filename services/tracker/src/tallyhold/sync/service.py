"""What a sync does to the database. Never commits: the engine owns one transaction per step, so a result is
applied (balances, window snapshot, connection state, net-worth point) all at once or not at all."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.audit.repository import AuditRepository
from tallyhold.breakers.policy import Failure, Verdict
from tallyhold.models import Connection
from tallyhold.portfolio.history import record_point
from tallyhold.sources.models import SourceBalances
from tallyhold.sync.policy import backoff_seconds
from tallyhold.sync.repository import SYNCED_KINDS, SyncRepository
from tallyhold.types import MONEY_PRECISION, decimal_to_str

# Permission flags that make a key able to move or risk funds. A source reporting any of them as true is
# quarantined, whatever its connector concluded (defence in depth: connectors raise `write_permissions`).
WRITE_FLAGS = ("trade", "withdraw", "transfer", "margin", "futures", "options")
# Codes meaning the exchange refused the key itself: counted as credential rejections.
CREDENTIAL_CODES = frozenset(
    {"invalid_credentials", "key_revoked", "permission_denied", "write_permissions", "key_expired"}
)
ACTOR = "sync"
# Detail of a `superseded` outcome whose key was replaced while the sync ran: its answer was about the old key.
CREDENTIALS_REPLACED = "credentials_replaced"


class Trigger(StrEnum):
    scheduled = "scheduled"  # the scheduler: respects backoff, skips sources in `error`
    manual = "manual"  # POST /v1/sync, `tallyhold sync --once`: retries sources in `error`, ignores backoff


class Outcome(StrEnum):
    success = "success"
    failed = "failed"  # transient: last good balances kept (stale), retried with backoff
    error = "error"  # permanent: status `error`
    quarantined = "quarantined"
    paused = "paused"  # our dependency (Vault, database) was down
    superseded = "superseded"  # a newer result was applied meanwhile, the key was replaced, or it vanished
    skipped = "skipped"


@dataclass(frozen=True)
class Claim:
    connection_id: uuid.UUID
    kind: str
    venue: str
    lease_until: datetime
    credentials_version: int  # the key the sync runs with; its result applies only while this is current


@dataclass(frozen=True)
class Skip:
    reason: str  # gone | not_synced | quarantined | error | held | backoff | busy
    kind: str = "unknown"


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    next_attempt_at: datetime | None = None
    detail: str | None = None


def venue_of(connection: Connection) -> str:
    return connection.exchange or connection.chain or connection.kind


async def claim(
    session: AsyncSession, connection_id: uuid.UUID, trigger: Trigger, now: datetime, lease: timedelta
) -> Claim | Skip:
    """Takes the connection's sync lease if nothing forbids a sync now."""
    repository = SyncRepository(session)
    connection = await repository.connection(connection_id, for_update=True)
    if connection is None:
        return Skip("gone")
    if connection.kind not in SYNCED_KINDS:
        return Skip("not_synced", connection.kind)
    if connection.status == "quarantined":
        return Skip("quarantined", connection.kind)
    if connection.status == "error" and trigger is Trigger.scheduled:
        return Skip("error", connection.kind)
    if connection.hold_until is not None and connection.hold_until > now:
        return Skip("held", connection.kind)
    if trigger is Trigger.scheduled and connection.next_attempt_at is not None and connection.next_attempt_at > now:
        return Skip("backoff", connection.kind)
    if connection.sync_lease_until is not None and connection.sync_lease_until > now:
        return Skip("busy", connection.kind)
    lease_until = now + lease
    connection.sync_lease_until = lease_until
    connection.last_attempt_at = now
    await session.flush()
    return Claim(connection.id, connection.kind, venue_of(connection), lease_until, connection.credentials_version)


async def _replaced(session: AsyncSession, connection: Connection, claim: Claim, discarded: str) -> Applied | None:
    """`superseded` when the key was replaced after the claim: the result (balances, permissions, a failure, a
    quarantine) was about the old key, so nothing of it is stored; the audit trail says what was dropped."""
    if connection.credentials_version == claim.credentials_version:
        return None
    await AuditRepository(session).record(
        "connection.sync_superseded",
        actor=ACTOR,
        connection_id=connection.id,
        reason=CREDENTIALS_REPLACED,
        discarded=discarded,
    )
    return Applied(Outcome.superseded, detail=CREDENTIALS_REPLACED)


def _holdings(result: SourceBalances) -> list[dict[str, Any]]:
    """One row per (asset, location): a source listing the same pair twice (sub-accounts) gets them summed."""
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    unconfirmed: dict[tuple[str, str], Decimal | None] = {}
    with localcontext(prec=MONEY_PRECISION):
        for item in result.balances:
            key = (item.asset.strip().upper(), item.location.strip().lower())
            amounts[key] += item.amount
            if item.unconfirmed is not None:
                unconfirmed[key] = (unconfirmed.get(key) or Decimal(0)) + item.unconfirmed
            else:
                unconfirmed.setdefault(key, None)
    return [
        {"asset": asset, "location": location, "amount": amount, "unconfirmed": unconfirmed.get((asset, location))}
        for (asset, location), amount in sorted(amounts.items())
    ]


def _liabilities(result: SourceBalances) -> list[dict[str, Any]]:
    """One row per (asset, location), normalised like holdings; positive amounts only (the model guarantees
    it, and the table's CHECK refuses anything else)."""
    amounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with localcontext(prec=MONEY_PRECISION):
        for item in result.liabilities:
            amounts[(item.asset.strip().upper(), item.location.strip().lower())] += item.amount
    return [
        {"asset": asset, "location": location, "amount": amount}
        for (asset, location), amount in sorted(amounts.items())
        if amount > 0
    ]


def write_rights(permissions: dict[str, Any] | None) -> list[str]:
    if not permissions:
        return []
    return [flag for flag in WRITE_FLAGS if permissions.get(flag) is True]


async def apply(
    session: AsyncSession,
    claim: Claim,
    result: SourceBalances,
    *,
    window_start: datetime,
    now: datetime,
    quote: str,
    price_max_age: timedelta,
    point: bool = True,
) -> Applied:
    repository = SyncRepository(session)
    connection = await repository.connection(claim.connection_id, for_update=True)
    if connection is None:
        return Applied(Outcome.superseded, detail="gone")
    await repository.release_lease(connection.id, claim.lease_until)
    flags = write_rights(result.permissions)
    replaced = await _replaced(session, connection, claim, "write_permissions" if flags else "success")
    if replaced is not None:
        return replaced
    if connection.status == "quarantined":
        return Applied(Outcome.superseded, detail="quarantined")
    if connection.last_observed_at is not None and result.observed_at < connection.last_observed_at:
        return Applied(Outcome.superseded, detail="older_result")
    if flags:
        await quarantine(session, connection, now, code="write_permissions", flags=flags)
        return Applied(Outcome.quarantined)

    holdings = _holdings(result)
    liabilities = _liabilities(result)
    await repository.replace_balances(connection.id, holdings)
    await repository.replace_liabilities(connection.id, liabilities)
    await repository.upsert_snapshot(
        connection.id,
        window_start,
        result.observed_at,
        now,
        [
            {
                "asset": h["asset"],
                "location": h["location"],
                "amount": decimal_to_str(h["amount"]),
                "unconfirmed": None if h["unconfirmed"] is None else decimal_to_str(h["unconfirmed"]),
            }
            for h in holdings
        ],
        [{**owed, "amount": decimal_to_str(owed["amount"])} for owed in liabilities],
    )
    connection.status = "active"
    connection.last_sync_at = now
    connection.last_observed_at = result.observed_at
    connection.last_error = None
    connection.failure_count = 0
    connection.next_attempt_at = None
    connection.hold_until = None
    connection.sync_lease_until = None
    if result.permissions is not None:
        connection.permissions = result.permissions
        connection.permissions_checked_at = now
    _apply_facts(connection, result.facts)
    await session.flush()
    if point:
        await record_point(session, quote, window_start, now, price_max_age)
    return Applied(Outcome.success)


def _apply_facts(connection: Connection, facts: dict[str, Any]) -> None:
    """Non-secret facts a source may report about the key (the connection object shows them)."""
    if isinstance(facts.get("ip_restricted"), bool):
        connection.ip_restricted = facts["ip_restricted"]
    expires = facts.get("key_expires_at")
    if isinstance(expires, str):
        try:
            moment = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            return
        if moment.tzinfo is not None:
            connection.key_expires_at = moment


async def fail(
    session: AsyncSession,
    claim: Claim,
    failure: Failure,
    *,
    now: datetime,
    backoff_base: float,
    backoff_max: float,
    rng: random.Random,
) -> Applied:
    """Records a failed sync. The balances are left alone: they are the last good ones, now flagged stale."""
    repository = SyncRepository(session)
    connection = await repository.connection(claim.connection_id, for_update=True)
    if connection is None:
        return Applied(Outcome.superseded, detail="gone")
    await repository.release_lease(connection.id, claim.lease_until)
    # Before touching the row: after a replacement the lease may already be a newer sync's, with the new key.
    replaced = await _replaced(session, connection, claim, failure.code)
    if replaced is not None:
        return replaced
    connection.sync_lease_until = None
    if connection.status == "quarantined":
        return Applied(Outcome.superseded, detail="quarantined")
    connection.last_error = failure.code
    # The source's own hold comes from its venue's answer; a call the shared pool never let out has none.
    hold = failure.hold_seconds() if failure.from_venue else None
    if hold is not None:
        connection.hold_until = now + timedelta(seconds=hold)
    verdict = failure.verdict
    if verdict is Verdict.quarantine:
        await quarantine(session, connection, now, code=failure.code)
        return Applied(Outcome.quarantined)
    if verdict is Verdict.pause:
        await session.flush()
        return Applied(Outcome.paused)
    connection.failure_count += 1
    if verdict is Verdict.error:
        if connection.status != "error":
            await AuditRepository(session).record(
                "connection.sync_error", actor=ACTOR, connection_id=connection.id, code=failure.code
            )
        connection.status = "error"
        connection.next_attempt_at = None
        await session.flush()
        return Applied(Outcome.error)
    delay = backoff_seconds(connection.failure_count, backoff_base, backoff_max, rng)
    retry_at = now + timedelta(seconds=max(delay, hold or 0))
    connection.next_attempt_at = retry_at
    await session.flush()
    return Applied(Outcome.failed, next_attempt_at=retry_at)


async def quarantine(
    session: AsyncSession, connection: Connection, now: datetime, *, code: str, flags: list[str] | None = None
) -> None:
    """The key can do more than read: never call the exchange with it again until it is replaced. Its last
    good balances stay (flagged stale); the audit trail says why (codes and flag names only)."""
    connection.status = "quarantined"
    connection.last_error = code
    connection.next_attempt_at = None
    connection.sync_lease_until = None
    await session.flush()
    details: dict[str, Any] = {"code": code}
    if flags:
        details["flags"] = flags
    await AuditRepository(session).record("connection.quarantined", actor=ACTOR, connection_id=connection.id, **details)
