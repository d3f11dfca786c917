"""Egress worker starts per customer and sync interval, from the scheduler's own triggers (no instance runs).

Each worker start costs its imports (~1.7 s of CPU, `bench_worker_start`). A customer of the capacity mix has 6
synced sources and a prices job. The worker lives from its first call to `TALLYHOLD_EGRESS_IDLE_SECONDS` after
its last; a job that fires after it exited starts it again. This computes, over a day of fire times, how many
starts that makes per interval:

- baseline: every job on its own APScheduler `IntervalTrigger(interval, jitter)`, which the scheduler used
  before the instance grid (APScheduler 3 adds uniform(0, jitter) to each fire time, counted from the previous,
  jittered one, so a customer's jobs walk apart), first fires within 5 s of the connection's creation;
- grid: `tallyhold.sync.scheduler.GridTrigger`, every job at the instance's phase into each interval.

A job's calls are taken to last CALL_SECONDS (the sandbox's syncs take 1–3 s; a loaded host more); the queueing
of a cycle's jobs behind SYNC_CONCURRENCY is left out: this counts starts, not durations. With an interval
shorter than about the idle time plus the jitter, spread jobs keep one worker alive from cycle to cycle and the
grid starts it more often (60 s); at the default 300 s the baseline's jobs drift apart and the grid saves.
The real-run figure is `bench_capacity`'s (the instances' `tallyhold_egress_worker_starts_total`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from tallyhold.settings import SyncSettings
from tallyhold.sync.scheduler import GridTrigger

JOBS = 7  # 2 exchanges, 3 EVM wallets, 1 xpub, prices (manual holdings are not synced)
CUSTOMERS = 200
CALL_SECONDS = 3.0
IDLE_SECONDS = 20.0
HOURS = 24
START = datetime(2026, 1, 1, tzinfo=UTC)


def fires(trigger: GridTrigger | IntervalTrigger, first: datetime, until: datetime) -> list[datetime]:
    times = [first]
    while times[-1] < until:
        times.append(trigger.get_next_fire_time(times[-1], times[-1]))
    return times


def starts_per_interval(schedules: list[list[datetime]], since: datetime, until: datetime, interval: int) -> float:
    """Worker starts between `since` and `until`, per interval, of one customer whose jobs fire at `schedules`."""
    starts, alive_until = 0, START - timedelta(days=1)
    for moment in sorted(m for times in schedules for m in times if m < until):
        if moment > alive_until and moment >= since:
            starts += 1
        alive_until = max(alive_until, moment + timedelta(seconds=CALL_SECONDS + IDLE_SECONDS))
    return starts / ((until - since).total_seconds() / interval)


def customer(rng: random.Random, interval: int, jitter: float, grid: bool, until: datetime) -> list[list[datetime]]:
    created = START + timedelta(seconds=rng.uniform(0, interval))
    firsts = [created + timedelta(seconds=rng.uniform(0, 5)) for _ in range(JOBS)]
    if grid:
        phase = timedelta(seconds=rng.uniform(0, jitter))
        trigger = GridTrigger(datetime.fromtimestamp(0, UTC) + phase, timedelta(seconds=interval))
        return [fires(trigger, first, until) for first in firsts]
    return [fires(IntervalTrigger(seconds=interval, jitter=jitter), first, until) for first in firsts]


def main() -> None:
    random.seed(16)  # APScheduler's jitter draws from the module's generator
    jitter_default = float(SyncSettings.model_fields["jitter_seconds"].default)
    print(
        f"{CUSTOMERS} customers × {JOBS} jobs, calls {CALL_SECONDS:g} s, worker idle {IDLE_SECONDS:g} s; "
        "worker starts per customer and interval (first hour / 24th hour after the connections were made)"
    )
    for interval in (60, 120, 300):
        jitter = min(jitter_default, interval / 2)
        until = START + timedelta(hours=HOURS)
        figures = {}
        for grid in (False, True):
            rng = random.Random(interval)
            first_hour, last_hour = [], []
            for _ in range(CUSTOMERS):
                schedules = customer(rng, interval, jitter, grid, until)
                first_hour.append(starts_per_interval(schedules, START, START + timedelta(hours=1), interval))
                last_hour.append(starts_per_interval(schedules, until - timedelta(hours=1), until, interval))
            figures[grid] = (sum(first_hour) / CUSTOMERS, sum(last_hour) / CUSTOMERS)
        (old_first, old_last), (new_first, new_last) = figures[False], figures[True]
        print(
            f"  interval {interval:3d} s, jitter {jitter:g} s: per-fire jitter {old_first:.2f} / {old_last:.2f}, "
            f"instance grid {new_first:.2f} / {new_last:.2f} (24th hour: {old_last / new_last:.2f}× the grid's)"
        )


if __name__ == "__main__":
    main()
