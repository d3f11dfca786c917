"""APScheduler 3 wiring, started by `tallyhold serve`'s lifespan (never by `tallyhold sync --once`).

The instance's cycle: every sync job and the prices job fire on one grid, `phase + k × SYNC_INTERVAL_SECONDS`
from the epoch, where the phase is drawn once per instance from [0, interval). A customer's sources and prices
therefore come due together, once per interval, and one egress worker start (its imports cost ~1.7 s of CPU)
serves the whole cycle, as long as the calls follow each other within the worker's idle time; the phases spread
the instances of a host, and the customers of an egress pool, evenly over the whole interval (drawn from a
shorter span, every instance of a host would sync inside it: all their worker starts at once, and the pool's
budget for a venue asked for all at once). No fire time is jittered on its own: sources that drift apart would
each start the worker again. The jitter spreads what does not follow the grid: overdue sources after a restart,
new connections' first sync.

Jobs (all coroutines on the API's event loop; the slow part of a sync runs in the egress worker):
    sync:<connection id>   on the instance's grid; moved earlier or later after a failure (backoff,
                           Retry-After) so a retry does not wait for the next grid point, then the next point
    prices                 on the instance's grid, after the cycle's sources: prices, then the window's point,
                           then the egress worker is let go unless a sync comes due within its idle time
    reconcile              every min(60 s, interval): adds jobs for new connections, drops jobs of deleted or
                           quarantined ones, and publishes the source gauges
    retention              hourly: history downsampling and pruning

Scheduler lag (start time − scheduled time, the phase included in the schedule) is observed per job type.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from datetime import UTC, datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold import metrics
from tallyhold.settings import Settings
from tallyhold.sync.engine import DB_DOWN, SyncEngine, SyncResult
from tallyhold.sync.repository import SyncRepository
from tallyhold.sync.service import CREDENTIALS_REPLACED, Outcome, Trigger
from tallyhold.sync.status import source_state

logger = logging.getLogger("tallyhold.sync")
SYNC_PREFIX = "sync:"
RETENTION_INTERVAL = timedelta(hours=1)


def job_type(job_id: str) -> str:
    return job_id.split(":", 1)[0]


class GridTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type hints: its base is Any
    """Fires at `origin + k × interval`. After a run off the grid (a retry at its backoff time, a sync asked for
    now, a new connection's first sync) the next fire is the next grid point: the job rejoins its instance's
    cycle and is never more than an interval from its next run (at the price of a second sync soon after, when
    the run was just before a grid point)."""

    def __init__(self, origin: datetime, interval: timedelta) -> None:
        self.origin = origin
        self.interval = interval

    def next_point(self, earliest: datetime) -> datetime:
        """The first grid point at or after `earliest`."""
        return self.origin + math.ceil((earliest - self.origin) / self.interval) * self.interval

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        if previous_fire_time is None:
            return self.next_point(now)
        return self.origin + (math.floor((previous_fire_time - self.origin) / self.interval) + 1) * self.interval

    def __repr__(self) -> str:
        return f"GridTrigger(origin={self.origin.isoformat()}, interval={self.interval.total_seconds():g} s)"


class SyncScheduler:
    def __init__(
        self,
        settings: Settings,
        session_maker: async_sessionmaker[AsyncSession],
        engine: SyncEngine,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.session_maker = session_maker
        self.engine = engine
        self.rng = rng or random.Random()
        self.interval = settings.sync.interval_seconds
        self.jitter = settings.sync.jitter
        # Drawn once: every regular fire time of this instance follows it (see the module's docstring).
        self.phase = timedelta(seconds=self.rng.uniform(0, self.interval))
        # Drawn once too: after a restart the overdue sources sync together this long after it, so that the
        # instances of a restarted host do not all start at the same moment.
        self.restart_delay = timedelta(seconds=self.rng.uniform(0, self.jitter))
        self.grid = GridTrigger(datetime.fromtimestamp(0, UTC) + self.phase, timedelta(seconds=self.interval))
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.interval},
        )
        # Jobs whose run is in progress, and those to run again as soon as that run is over: APScheduler skips a
        # run that comes due while the job's one allowed instance is still running (max_instances).
        self._in_progress: set[str] = set()
        self._again: set[str] = set()
        self._job_finished = asyncio.Event()  # set whenever a job's run ends; the cycle's prices wait on it
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.add_listener(self._on_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.add_listener(self._on_error, EVENT_JOB_ERROR)
        engine.on_result.append(self._after_sync)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self, *, paused: bool = False) -> None:
        """`paused`: the jobs are laid out but none runs until `self.scheduler.resume()` (to look at a schedule)."""
        now = datetime.now(UTC)
        self.scheduler.start(paused=paused)
        self.scheduler.add_job(
            self.reconcile,
            IntervalTrigger(seconds=min(60, self.interval)),
            id="reconcile",
            next_run_time=now,
        )
        self.scheduler.add_job(
            self.prices_after_sources,
            self.grid,
            id="prices",
            next_run_time=now + timedelta(seconds=self.rng.uniform(0, min(5.0, self.jitter or 5.0))),
        )
        self.scheduler.add_job(
            self.engine.apply_retention,
            IntervalTrigger(seconds=RETENTION_INTERVAL.total_seconds()),
            id="retention",
            next_run_time=now + timedelta(seconds=60),
        )

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def reconcile(self) -> None:
        """Makes the set of sync jobs match the connections in the database."""
        now = datetime.now(UTC)
        try:
            async with self.session_maker() as session:
                connections = await SyncRepository(session).synced_connections()
        except DB_DOWN:
            logger.warning("reconcile skipped: database unavailable")
            return
        wanted = {c.id: c for c in connections if c.status != "quarantined"}
        scheduled = {
            uuid.UUID(job.id.removeprefix(SYNC_PREFIX))
            for job in self.scheduler.get_jobs()
            if job.id.startswith(SYNC_PREFIX)
        }
        for connection_id in scheduled - set(wanted):
            self.scheduler.remove_job(f"{SYNC_PREFIX}{connection_id}")
        for connection_id in set(wanted) - scheduled:
            connection = wanted[connection_id]
            self._add_sync_job(
                connection_id, self._first_run(now, connection.last_attempt_at, connection.next_attempt_at)
            )
        present = {str(c.id) for c in connections}
        for gone in self.engine.published_success - present:
            metrics.SYNC_LAST_SUCCESS.remove(gone)
            self.engine.published_success.discard(gone)
        states: dict[tuple[str, str], int] = {}
        for connection in connections:
            key = (connection.kind, source_state(connection, now, self.settings.sync.source_max_age, syncing=False))
            states[key] = states.get(key, 0) + 1
            if connection.last_sync_at is not None:
                self.engine.publish_success(connection.id, connection.last_sync_at)
        metrics.SOURCES.clear()
        for (kind, state), count in states.items():
            metrics.SOURCES.labels(kind, state).set(count)
        counts: dict[str, int] = {}
        for job in self.scheduler.get_jobs():
            counts[job_type(job.id)] = counts.get(job_type(job.id), 0) + 1
        metrics.SCHEDULER_JOBS.clear()
        for name, count in counts.items():
            metrics.SCHEDULER_JOBS.labels(name).set(count)
        metrics.SCHEDULER_HEARTBEAT.set(now.timestamp())

    def sync_soon(self, connection_id: uuid.UUID) -> None:
        """Moves (or adds) the connection's job to now: its key was replaced, the old key's backoff is void."""
        if not self.scheduler.running:
            return
        now = datetime.now(UTC)
        job = self.scheduler.get_job(f"{SYNC_PREFIX}{connection_id}")
        if job is not None:
            job.modify(next_run_time=now)
            return
        self._add_sync_job(connection_id, now)

    async def prices_after_sources(self) -> None:
        """The cycle's prices, once the sources that were running when it came due are done (they came due with
        it): prices then know every asset the cycle found, and the window's net-worth point they write last holds
        the cycle's balances and prices. A source's own deadline bounds the wait; one interval caps it."""
        sources = {job_id for job_id in self._in_progress if job_id.startswith(SYNC_PREFIX)}
        try:
            async with asyncio.timeout(self.interval):
                while sources & self._in_progress:
                    self._job_finished.clear()
                    await self._job_finished.wait()
        except TimeoutError:
            logger.warning("prices did not wait any longer for the cycle's sources")
        await self.engine.refresh_prices()
        await self._release_worker_after_cycle()

    async def _release_worker_after_cycle(self) -> None:
        """The cycle is over: its egress worker is let go now rather than idling on with ~80 MiB and one of the
        host's worker slots until its idle time ends, unless a sync is still running or one comes due within
        that idle time (a retry, a new connection's first sync), which would otherwise start another."""
        engine = self.engine
        if engine.running or engine.running_all or any(j.startswith(SYNC_PREFIX) for j in self._in_progress):
            return  # a sync job handed to the event loop may not have begun yet
        soon = datetime.now(UTC) + timedelta(seconds=engine.egress.idle_seconds)
        for job in self.scheduler.get_jobs():
            if job.id.startswith(SYNC_PREFIX) and job.next_run_time is not None and job.next_run_time <= soon:
                return
        await engine.egress.release()

    def _add_sync_job(self, connection_id: uuid.UUID, first_run: datetime) -> None:
        self.scheduler.add_job(
            self.engine.sync_connection,
            self.grid,
            args=[connection_id, Trigger.scheduled],
            id=f"{SYNC_PREFIX}{connection_id}",
            next_run_time=first_run,
        )

    def _first_run(self, now: datetime, last_attempt: datetime | None, next_attempt: datetime | None) -> datetime:
        """New connections sync soon; a source waiting for a retry keeps its backoff time. After a restart the
        others join the instance's cycle: a source whose time passed while the instance was down syncs at once
        with the other overdue ones (after the instance's restart delay, so the instances of a restarted host do
        not all start together); any other at the first grid point half an interval or more after its last
        attempt, so a restart never syncs a source sooner than that."""
        if next_attempt is not None and next_attempt > now:
            return next_attempt
        if last_attempt is None:
            return now + timedelta(seconds=self.rng.uniform(0, min(5.0, self.jitter or 5.0)))
        if last_attempt + timedelta(seconds=self.interval) <= now:
            return now + self.restart_delay
        return self.grid.next_point(max(now, last_attempt + self.grid.interval / 2))

    async def _after_sync(self, result: SyncResult) -> None:
        """A failed source retries at its backoff time instead of the next grid point; a sync superseded by a key
        replacement is followed at once by one with the new key (after its own job run, if it was one)."""
        job_id = f"{SYNC_PREFIX}{result.connection_id}"
        if result.outcome is Outcome.superseded and result.code == CREDENTIALS_REPLACED:
            if job_id in self._in_progress:
                self._again.add(job_id)
            else:
                self.sync_soon(result.connection_id)
            return
        if result.next_attempt_at is None:
            return
        job = self.scheduler.get_job(job_id)
        if job is not None:
            job.modify(next_run_time=result.next_attempt_at)

    def _on_finished(self, event: JobEvent) -> None:
        # Dispatched once APScheduler has counted the run as over, so a job moved to now runs rather than skips.
        self._in_progress.discard(event.job_id)
        self._job_finished.set()
        if event.job_id in self._again and event.job_id.startswith(SYNC_PREFIX):
            self._again.discard(event.job_id)
            self.sync_soon(uuid.UUID(event.job_id.removeprefix(SYNC_PREFIX)))

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        self._in_progress.add(event.job_id)
        if event.scheduled_run_times:
            lag = (datetime.now(UTC) - max(event.scheduled_run_times)).total_seconds()
            metrics.SCHEDULER_LAG.labels(job_type(event.job_id)).observe(max(lag, 0.0))

    def _on_missed(self, event: JobEvent) -> None:
        metrics.SCHEDULER_MISSED.labels(job_type(event.job_id)).inc()

    def _on_error(self, event: JobEvent) -> None:
        logger.error("scheduled job crashed", extra={"job": job_type(event.job_id)})
