"""Pure sync rules: windows and backoff with jitter. No I/O here (failures and venue breakers: `breakers`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime


def window_start(moment: datetime, interval_seconds: int) -> datetime:
    """The start of the sync window holding `moment`: windows tile time on a fixed grid from the epoch."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval_seconds, UTC)


def backoff_seconds(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with "equal jitter": half the step is fixed, half random. The fixed half
    keeps a retry from following its failure at once; the random half spreads sources that failed together."""
    rng = rng or random.Random()
    step = min(cap, base * 2.0 ** max(failures - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)
