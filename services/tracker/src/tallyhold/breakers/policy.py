"""What a failed outbound call means, and the per-venue circuit breakers it feeds. No I/O here.

A `Failure` (a stable code, transient or not, the venue's Retry-After) decides two things: what happens to the
source that made the call (`Verdict`, applied by the sync service) and whether the venue's breaker counts it
(`Breakers`, shared by the sync engine and the price refresh, which call the same venues).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Codes whose cause is the venue (or the path to it), not the account: they count towards the venue's breaker.
VENUE_CODES = frozenset(
    {"rate_limited", "banned", "exchange_unavailable", "timeout", "malformed_response", "rpc_unavailable"}
)
# Codes that hold the whole venue for the Retry-After the venue sent (limits are per IP, not per key).
HOLD_CODES = frozenset({"rate_limited", "banned"})
DEFAULT_HOLD_SECONDS = {"rate_limited": 60.0, "banned": 600.0}
QUARANTINE_CODES = frozenset({"write_permissions"})
# Codes about our own side: they neither count against a venue nor make the source's key suspect.
PAUSE_CODES = frozenset({"vault_unavailable", "database_unavailable", "credentials_unavailable"})


class Verdict(StrEnum):
    retry = "retry"  # transient: keep the last good balances (stale), back off, try again
    error = "error"  # permanent: status `error`, no scheduled sync until fixed
    quarantine = "quarantine"  # the key gained write rights: status `quarantined`, never called again
    pause = "pause"  # our dependency (Vault, database) is down: retry on the next interval, no backoff growth


@dataclass(frozen=True)
class Failure:
    code: str
    transient: bool
    retry_after: float | None = None
    # False when the call was never sent (the shared egress pool is held back): no hold of the source's own.
    from_venue: bool = True
    # True when the call was never sent because its turn in the egress pool's queue is later: no breaker either.
    queued: bool = False

    @property
    def verdict(self) -> Verdict:
        if self.code in QUARANTINE_CODES:
            return Verdict.quarantine
        if self.code in PAUSE_CODES:
            return Verdict.pause
        return Verdict.retry if self.transient else Verdict.error

    def hold_seconds(self) -> float | None:
        """How long the venue must not be called at all, from the venue's own Retry-After when it sent one."""
        if self.code not in HOLD_CODES:
            return None
        if self.retry_after is not None and self.retry_after > 0:
            return self.retry_after
        return DEFAULT_HOLD_SECONDS[self.code]


_EPOCH = datetime.fromtimestamp(0, UTC)


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


@dataclass
class _Venue:
    failures: int = 0
    open_until: datetime | None = None
    reason: str | None = None
    probing: bool = False


@dataclass
class Breakers:
    """Per-venue circuit breakers of one process. Opened by a hold (429/418: for the Retry-After) or by
    `threshold` consecutive venue failures (for `cooldown`). Once the time is up the breaker is half open:
    exactly one call (the probe) may go; its success closes the breaker, its failure opens it again.

    The database keeps the open-until times too (`venue_breakers`), so other processes and restarts respect
    them; `restore` feeds those into this object."""

    threshold: int
    cooldown: timedelta
    _venues: dict[str, _Venue] = field(default_factory=dict)

    def _venue(self, venue: str) -> _Venue:
        return self._venues.setdefault(venue, _Venue())

    def state(self, venue: str, now: datetime) -> BreakerState:
        entry = self._venues.get(venue)
        if entry is None or entry.open_until is None:
            return BreakerState.closed
        return BreakerState.open if now < entry.open_until else BreakerState.half_open

    def open_until(self, venue: str) -> datetime | None:
        entry = self._venues.get(venue)
        return entry.open_until if entry else None

    def reason(self, venue: str) -> str | None:
        entry = self._venues.get(venue)
        return entry.reason if entry else None

    def snapshot(self) -> list[tuple[str, str | None, datetime]]:
        """(venue, reason, open_until) of every venue whose breaker opened at some point; for metrics."""
        return [(v, e.reason, e.open_until or _EPOCH) for v, e in sorted(self._venues.items())]

    def reconcile(self, stored: dict[str, tuple[datetime, str]], now: datetime) -> None:
        """Makes the open breakers match the database's (`venue → (open_until, reason)`, open ones only): those
        opened elsewhere apply here, and one whose row was deleted (by an operator) closes here too."""
        for venue, entry in self._venues.items():
            if entry.open_until is not None and entry.open_until > now and venue not in stored:
                entry.failures, entry.open_until, entry.reason, entry.probing = 0, None, None, False
        for venue, (open_until, reason) in stored.items():
            self.restore(venue, open_until, reason)

    def restore(self, venue: str, open_until: datetime, reason: str) -> None:
        entry = self._venue(venue)
        if entry.open_until is None or open_until > entry.open_until:
            entry.open_until, entry.reason = open_until, reason

    def acquire(self, venue: str, now: datetime) -> bool:
        """May a call go to `venue` now? In the half-open state only the first caller gets True."""
        state = self.state(venue, now)
        if state is BreakerState.closed:
            return True
        if state is BreakerState.open:
            return False
        entry = self._venue(venue)
        if entry.probing:
            return False
        entry.probing = True
        return True

    def release(self, venue: str) -> None:
        """The call that `acquire` allowed ended without a verdict on the venue (our own failure)."""
        self._venue(venue).probing = False

    def success(self, venue: str, now: datetime) -> bool:
        """Returns True when this closed a breaker that was open or half open. A hold the venue asked for
        (429/418) is never cut short: a call that was already in flight when it came may well succeed."""
        entry = self._venue(venue)
        entry.failures, entry.probing = 0, False
        if entry.open_until is None:
            return False
        if entry.reason in HOLD_CODES and now < entry.open_until:
            return False
        entry.open_until, entry.reason = None, None
        return True

    def failure(self, venue: str, failure: Failure, now: datetime) -> datetime | None:
        """Records a failed call; returns the new open-until time when the breaker (re)opens."""
        entry = self._venue(venue)
        was_probe, entry.probing = entry.probing, False
        hold = failure.hold_seconds()
        if hold is not None:
            return self._open(entry, now + timedelta(seconds=hold), failure.code)
        if failure.code not in VENUE_CODES:
            return None
        entry.failures += 1
        if was_probe or entry.failures >= self.threshold:
            return self._open(entry, now + self.cooldown, "failures")
        return None

    @staticmethod
    def _open(entry: _Venue, until: datetime, reason: str) -> datetime:
        if entry.open_until is None or until > entry.open_until:
            entry.open_until, entry.reason = until, reason
        return entry.open_until
