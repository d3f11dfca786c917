"""The one code path of every sync, whatever triggered it (scheduler, `POST /v1/sync`, `tallyhold sync --once`).

    claim (txn 1: lease, last attempt)  →  breaker / limits  →  builder → EgressCall  →  egress worker call
    with the source's deadline  →  apply (txn 2: balances + window snapshot + state + net-worth point) or fail

Database failures (Postgres restarting) end the attempt cleanly with outcome `paused`; nothing was half
written because every write of an attempt is one transaction; the lease expires by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold import metrics
from tallyhold.breakers.policy import VENUE_CODES, Breakers, Failure
from tallyhold.breakers.repository import BreakerRepository
from tallyhold.db import transaction
from tallyhold.egress.budget import POOL_HOLD, POOL_QUEUE
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.errors import TallyholdError
from tallyhold.portfolio import cache as answers
from tallyhold.portfolio.history import Retention, apply_retention, record_point
from tallyhold.prices.service import PriceService
from tallyhold.settings import Settings
from tallyhold.sources.models import EgressCall, SourceBalances, SourceContext
from tallyhold.sources.registry import RequestBuilder
from tallyhold.sync import service
from tallyhold.sync.policy import window_start
from tallyhold.sync.repository import SyncRepository
from tallyhold.sync.service import Applied, Claim, Outcome, Skip, Trigger

logger = logging.getLogger("tallyhold.sync")
# Errors that mean "the database is unreachable (or its pool exhausted) right now", not a bug in a statement.
DB_DOWN = (OperationalError, InterfaceError, PoolTimeout)
MAX_CODE_LENGTH = 64
# The skip reason of a source whose exchange call waits for its turn in the shared egress pool's queue.
QUEUED = "egress_budget_queue"
MAX_FIELD_LENGTH = 32
BREAKER_REASONS = ("banned", "rate_limited", "failures")


@dataclass(frozen=True)
class SyncResult:
    connection_id: uuid.UUID
    outcome: Outcome
    code: str | None = None  # error code, or the reason a sync was skipped
    next_attempt_at: datetime | None = None


@dataclass
class SyncReport:
    started_at: datetime
    results: list[SyncResult] = field(default_factory=list)
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def failed(self) -> list[SyncResult]:
        return [r for r in self.results if r.outcome in {Outcome.failed, Outcome.error, Outcome.quarantined}]


class SyncEngine:
    """Shared by the scheduler and the manual triggers of one process; its limits and breakers apply to all."""

    def __init__(
        self,
        settings: Settings,
        session_maker: async_sessionmaker[AsyncSession],
        egress: EgressClient,
        builders: Mapping[str, RequestBuilder],
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.session_maker = session_maker
        self.egress = egress
        self.builders = builders
        self.rng = rng or random.Random()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.breakers = Breakers(
            settings.sync.breaker_failures, timedelta(seconds=settings.sync.breaker_cooldown_seconds)
        )
        self._global = asyncio.Semaphore(settings.sync.concurrency)
        self._venues: dict[str, asyncio.Semaphore] = {}
        self._running: set[uuid.UUID] = set()
        self._all_task: asyncio.Task[SyncReport] | None = None
        self.last_report: SyncReport | None = None
        self.published_success: set[str] = set()  # connection ids with a last-success series, for removal
        self.prices = PriceService(settings, session_maker, egress, self.breakers, self.clock)
        # Called after every attempt (the scheduler reschedules a job on backoff); never raises into the sync.
        self.on_result: list[Callable[[SyncResult], Awaitable[None]]] = []
        metrics.SYNC_INTERVAL.set(settings.sync.interval_seconds)

    @property
    def lease(self) -> timedelta:
        # Covers the deadline and the write; short, so a killed process's lease is forgotten soon. A write that
        # outlives it is still safe: rows are keyed by window and ordered by observation time.
        return timedelta(seconds=self.settings.sync.timeout_seconds + 5)

    def _venue_limit(self, venue: str) -> asyncio.Semaphore:
        return self._venues.setdefault(venue, asyncio.Semaphore(self.settings.sync.venue_concurrency))

    # -- everything ------------------------------------------------------------------------------------

    @answers.background_work
    async def sync_all(self, trigger: Trigger = Trigger.manual) -> SyncReport:
        """Every source at once (within the limits), then prices, then the window's net-worth point; the cached
        answers are brought up to date before it returns, so a run reported finished is in the next answer."""
        report = SyncReport(started_at=self.clock())
        try:
            async with self.session_maker() as session:
                ids = [c.id for c in await SyncRepository(session).synced_connections()]
        except DB_DOWN:
            report.error = "database_unavailable"
            report.finished_at = self.clock()
            self.last_report = report
            return report
        # One net-worth point and one breaker read for the whole run, not one per source.
        with contextlib.suppress(*DB_DOWN):  # each source's claim meets the same outage and reports it
            await self._restore_breakers(self.clock())
        runs = (self.sync_connection(i, trigger, point=False, restore=False) for i in ids)
        report.results = list(await asyncio.gather(*runs))
        report.error = await self.refresh_prices()
        await answers.settle()
        report.finished_at = self.clock()
        self.last_report = report
        return report

    @answers.background_work
    async def refresh_prices(self) -> str | None:
        """Prices, then the window's net-worth point (written even when nothing needs a market price, so
        history has a point per window). Returns an error code, or None."""
        try:
            refresh = await self.prices.refresh()
            now = self.clock()
            self._publish_breakers(now)
            async with transaction(self.session_maker) as session:
                await record_point(
                    session,
                    self.settings.portfolio.quote_currency,
                    window_start(now, self.settings.sync.interval_seconds),
                    now,
                    self.settings.prices.max_age,
                )
        except DB_DOWN:
            logger.warning("price refresh paused: database unavailable")
            return "database_unavailable"
        return refresh.error

    @answers.background_work
    async def apply_retention(self) -> dict[str, int] | None:
        """History downsampling and pruning (hourly job, and after `tallyhold sync --once`)."""
        settings = self.settings
        now = self.clock()
        retention = Retention(
            settings.portfolio.history_raw_days,
            settings.portfolio.history_hourly_days,
            settings.portfolio.history_daily_days,
        )
        try:
            async with transaction(self.session_maker) as session:
                counts = await apply_retention(session, retention, now)
                await SyncRepository(session).prune_snapshots(now - timedelta(days=settings.portfolio.history_raw_days))
        except DB_DOWN:
            logger.warning("history retention paused: database unavailable")
            return None
        for resolution, count in counts.items():
            metrics.HISTORY_POINTS.labels(resolution).set(count)
        return counts

    def start_sync_all(self) -> bool:
        """Starts `sync_all` in the background (POST /v1/sync); False when one is already running."""
        if self._all_task is not None and not self._all_task.done():
            return False
        self._all_task = asyncio.create_task(self.sync_all(Trigger.manual), name="tallyhold-sync-all")
        self._all_task.add_done_callback(_log_crash)
        return True

    @property
    def running_all(self) -> bool:
        return self._all_task is not None and not self._all_task.done()

    @property
    def running(self) -> frozenset[uuid.UUID]:
        return frozenset(self._running)

    async def aclose(self) -> None:
        task, self._all_task = self._all_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- one connection --------------------------------------------------------------------------------

    @answers.background_work
    async def sync_connection(
        self, connection_id: uuid.UUID, trigger: Trigger = Trigger.manual, *, point: bool = True, restore: bool = True
    ) -> SyncResult:
        """Syncs one source. `point`: also update the window's net-worth point (a scheduled job does; a run of
        every source writes it once at the end). `restore`: read the database's breakers first."""
        if connection_id in self._running:
            return SyncResult(connection_id, Outcome.skipped, "busy")
        self._running.add(connection_id)
        try:
            async with self._global:
                metrics.SYNC_IN_FLIGHT.inc()
                try:
                    result = await self._sync(connection_id, trigger, point=point, restore=restore)
                finally:
                    metrics.SYNC_IN_FLIGHT.dec()
        finally:
            self._running.discard(connection_id)
        for callback in self.on_result:
            try:
                await callback(result)
            except Exception:  # a listener's bug must not turn a finished sync into a failed one
                logger.exception("sync result listener failed", extra={"connection_id": str(connection_id)})
        return result

    async def _sync(self, connection_id: uuid.UUID, trigger: Trigger, *, point: bool, restore: bool) -> SyncResult:
        started = time.perf_counter()
        now = self.clock()
        kind = "unknown"
        try:
            if restore:
                await self._restore_breakers(now)
            self._publish_breakers(now)
            async with transaction(self.session_maker) as session:
                claimed = await service.claim(session, connection_id, trigger, now, self.lease)
            if isinstance(claimed, Skip):
                return self._skipped(connection_id, claimed.kind, claimed.reason)
            kind = claimed.kind
            if not self.breakers.acquire(claimed.venue, now):
                await self._release(claimed)
                return self._skipped(connection_id, kind, "breaker_open")
            call_or_failure = await self._build(claimed)
            if isinstance(call_or_failure, Failure):
                self.breakers.release(claimed.venue)
                return await self._failed(claimed, call_or_failure, started)
            call = call_or_failure
            if call.venue != claimed.venue and not self.breakers.acquire(call.venue, now):
                self.breakers.release(claimed.venue)
                await self._release(claimed)
                return self._skipped(connection_id, kind, "breaker_open")
            async with self._venue_limit(call.venue):
                reply = await self._call(call)
            if isinstance(reply, Failure) and reply.queued:
                return await self._queued(claimed, reply, venue=call.venue)
            if isinstance(reply, Failure) and not reply.from_venue:
                return await self._held_by_pool(claimed, reply, venue=call.venue)
            if isinstance(reply, Failure):
                return await self._failed(claimed, reply, started, venue=call.venue)
            return await self._succeeded(claimed, reply, started, venue=call.venue, point=point)
        except DB_DOWN:
            logger.warning("sync paused: database unavailable", extra={"connection_id": str(connection_id)})
            metrics.SYNC_RUNS.labels(kind, Outcome.paused.value).inc()
            metrics.SYNC_ERRORS.labels(kind, "database_unavailable").inc()
            return SyncResult(connection_id, Outcome.paused, "database_unavailable")

    async def _restore_breakers(self, now: datetime) -> None:
        """Breakers opened by other processes (or before a restart) apply here too."""
        async with self.session_maker() as session:
            rows = await BreakerRepository(session).open_breakers(now)
        self.breakers.reconcile({row.venue: (row.open_until, row.reason) for row in rows}, now)

    async def _build(self, claimed: Claim) -> EgressCall | Failure:
        builder = self.builders.get(claimed.kind)
        if builder is None:
            return Failure("unsupported_source", transient=False)
        async with transaction(self.session_maker) as session:
            connection = await SyncRepository(session).connection(claimed.connection_id)
            if connection is None:
                return Failure("gone", transient=False)
            context = SourceContext(settings=self.settings, session=session)
            try:
                return await builder(connection, context)
            except EgressError as exc:
                return Failure(exc.code[:MAX_CODE_LENGTH], exc.transient, exc.failure.retry_after)
            except TallyholdError as exc:
                # Domain errors of the builder (Vault down, a ciphertext that no longer decrypts): by code.
                return Failure(exc.code[:MAX_CODE_LENGTH], transient=exc.status_code >= 500)

    async def _call(self, call: EgressCall) -> SourceBalances | Failure:
        try:
            reply = await asyncio.wait_for(
                self.egress.call(call.op, call.request, SourceBalances), self.settings.sync.timeout_seconds
            )
        except TimeoutError:
            return Failure("timeout", transient=True)
        except EgressError as exc:
            held_by = exc.failure.details.get("held_by")
            return Failure(
                exc.code[:MAX_CODE_LENGTH],
                exc.transient,
                exc.failure.retry_after,
                from_venue=held_by not in {POOL_HOLD, POOL_QUEUE},
                queued=held_by == POOL_QUEUE,
            )
        # Owned and owed lines land in String(32) columns: a blank or overlong one is a malformed answer, never
        # a database error escaping the sync.
        lines = [(b.asset, b.location) for b in reply.balances] + [(d.asset, d.location) for d in reply.liabilities]
        for asset, location in lines:
            if not (0 < len(asset.strip()) <= MAX_FIELD_LENGTH and 0 < len(location.strip()) <= MAX_FIELD_LENGTH):
                return Failure("malformed_response", transient=True)
        if reply.observed_at.tzinfo is None:
            return Failure("malformed_response", transient=True)
        return reply

    async def _succeeded(
        self, claimed: Claim, reply: SourceBalances, started: float, *, venue: str, point: bool
    ) -> SyncResult:
        now = self.clock()
        async with transaction(self.session_maker) as session:
            applied = await service.apply(
                session,
                claimed,
                reply,
                window_start=window_start(now, self.settings.sync.interval_seconds),
                now=now,
                quote=self.settings.portfolio.quote_currency,
                price_max_age=self.settings.prices.max_age,
                point=point,
            )
            if self.breakers.success(venue, now):
                await BreakerRepository(session).close_breaker(venue)
        self._publish_breakers(now)
        self._observe(claimed, applied, started)
        if applied.outcome is Outcome.success:
            self.publish_success(claimed.connection_id, now)
        elif applied.outcome is Outcome.quarantined:
            metrics.QUARANTINES.inc()
            metrics.CREDENTIALS_REJECTED.labels("write_permissions").inc()
        elif applied.detail == service.CREDENTIALS_REPLACED:
            _log_superseded(claimed, None)
        return SyncResult(claimed.connection_id, applied.outcome, applied.detail, applied.next_attempt_at)

    async def _failed(
        self, claimed: Claim, failure: Failure, started: float, *, venue: str | None = None
    ) -> SyncResult:
        now = self.clock()
        venue = venue or claimed.venue
        opened = self.breakers.failure(venue, failure, now) if failure.code in VENUE_CODES else None
        if failure.code not in VENUE_CODES:
            self.breakers.release(venue)
        async with transaction(self.session_maker) as session:
            applied = await service.fail(
                session,
                claimed,
                failure,
                now=now,
                backoff_base=self.settings.sync.backoff_base_seconds,
                backoff_max=self.settings.sync.backoff_max_seconds,
                rng=self.rng,
            )
            if opened is not None:
                reason = self.breakers.reason(venue) or failure.code
                await BreakerRepository(session).open_breaker(venue, reason, now, opened)
        if failure.code in {"rate_limited", "banned"}:
            metrics.RATE_LIMITED.labels(venue, failure.code).inc()
        metrics.SYNC_ERRORS.labels(claimed.kind, failure.code).inc()
        self._publish_breakers(now)
        self._observe(claimed, applied, started)
        if applied.detail == service.CREDENTIALS_REPLACED:
            # The venue's answer (and its breaker, above) still counts; the verdict on the old key does not.
            _log_superseded(claimed, failure.code)
            return SyncResult(claimed.connection_id, applied.outcome, applied.detail)
        if failure.code in service.CREDENTIAL_CODES:
            metrics.CREDENTIALS_REJECTED.labels(failure.code).inc()
        if applied.outcome is Outcome.quarantined:
            metrics.QUARANTINES.inc()
        logger.info(
            "sync failed",
            extra={"connection_id": str(claimed.connection_id), "code": failure.code, "outcome": applied.outcome},
        )
        return SyncResult(claimed.connection_id, applied.outcome, failure.code, applied.next_attempt_at)

    async def _held_by_pool(self, claimed: Claim, failure: Failure, *, venue: str) -> SyncResult:
        """The shared egress pool refused the call before it was sent (another instance's 429 or ban): nothing
        happened to this source, so it is skipped like any source of a venue whose breaker is open, and the
        venue's breaker opens for the pool's hold."""
        now = self.clock()
        opened = self.breakers.failure(venue, failure, now)
        async with transaction(self.session_maker) as session:
            await SyncRepository(session).release_lease(claimed.connection_id, claimed.lease_until)
            if opened is not None:
                reason = self.breakers.reason(venue) or failure.code
                await BreakerRepository(session).open_breaker(venue, reason, now, opened)
        self._publish_breakers(now)
        return self._skipped(claimed.connection_id, claimed.kind, "breaker_open")

    async def _queued(self, claimed: Claim, failure: Failure, *, venue: str) -> SyncResult:
        """The shared egress pool is busy and this source's turn is further off than a call waits: nothing
        happened to the source or the venue, so no failure, hold or breaker; it comes back when its turn is due
        (the pool keeps its place in the queue until shortly after)."""
        self.breakers.release(venue)
        await self._release(claimed)
        wait = failure.retry_after or 0.0
        logger.info(
            "sync waits for its turn in the egress pool",
            extra={"connection_id": str(claimed.connection_id), "venue": venue, "seconds": round(wait, 1)},
        )
        result = self._skipped(claimed.connection_id, claimed.kind, QUEUED)
        return SyncResult(result.connection_id, result.outcome, result.code, self.clock() + timedelta(seconds=wait))

    async def _release(self, claimed: Claim) -> None:
        async with transaction(self.session_maker) as session:
            await SyncRepository(session).release_lease(claimed.connection_id, claimed.lease_until)

    def _skipped(self, connection_id: uuid.UUID, kind: str, reason: str) -> SyncResult:
        metrics.SYNC_SKIPS.labels(kind, reason).inc()
        return SyncResult(connection_id, Outcome.skipped, reason)

    def _observe(self, claimed: Claim, applied: Applied, started: float) -> None:
        metrics.SYNC_RUNS.labels(claimed.kind, applied.outcome.value).inc()
        metrics.SYNC_DURATION.labels(claimed.kind).observe(time.perf_counter() - started)

    def publish_success(self, connection_id: uuid.UUID, at: datetime) -> None:
        label = str(connection_id)
        metrics.SYNC_LAST_SUCCESS.labels(label).set(at.timestamp())
        self.published_success.add(label)

    def _publish_breakers(self, now: datetime) -> None:
        for venue, reason, open_until in self.breakers.snapshot():
            for known in BREAKER_REASONS:
                if known == reason and open_until > now:
                    metrics.BREAKER_OPEN.labels(venue, known).set(1)
                else:
                    metrics.BREAKER_OPEN.labels(venue, known).set(0)


def _log_superseded(claimed: Claim, code: str | None) -> None:
    logger.info(
        "sync superseded",
        extra={
            "connection_id": str(claimed.connection_id),
            "outcome": Outcome.superseded,
            "reason": service.CREDENTIALS_REPLACED,
            "code": code,
        },
    )


def _log_crash(task: asyncio.Task[SyncReport]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The class only: an exception's text can carry a statement with its parameters.
        logger.error("sync of every source crashed", extra={"error_type": type(task.exception()).__name__})
