"""Pure sync rules: windows on the interval grid, backoff with jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tallyhold.sync.policy import backoff_seconds, window_start

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_windows_tile_time_on_the_interval_grid() -> None:
    assert window_start(T0 + timedelta(seconds=299), 300) == T0
    assert window_start(T0 + timedelta(seconds=300), 300) == T0 + timedelta(seconds=300)
    assert window_start(T0 - timedelta(microseconds=1), 300) == T0 - timedelta(seconds=300)


def test_backoff_doubles_with_jitter_inside_bounds_and_caps() -> None:
    rng = random.Random(7)
    for failures, low, high in [(1, 15, 30), (2, 30, 60), (3, 60, 120), (10, 1800, 3600), (50, 1800, 3600)]:
        samples = [backoff_seconds(failures, 30, 3600, rng) for _ in range(200)]
        assert all(low <= s <= high for s in samples)
        assert max(samples) - min(samples) > (high - low) / 2, "jitter spreads retries"
