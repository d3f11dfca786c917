"""A per-IP request-weight limit like Binance's: every request spends its endpoint's weight from the caller IP's
budget for the current window (aligned to the clock, as Binance's one-minute windows are); the answer carries
the weight used so far (`X-MBX-USED-WEIGHT-1M`); a request over the limit gets 429 with Retry-After (the end
of the window), and a request sent while that 429's Retry-After still runs gets the IP banned: 418 with
Retry-After and the ban's end in the message, for every request from that IP until the ban ends.

Off unless a test or the demo turns it on (`VenueControl.limit_ip_weight`): the window can be shortened so a
test sees several windows in seconds. `stats()` tells what the venue saw (highest weight used in one window,
how many 429s and 418s), which is what the shared-budget tests assert on.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"


@dataclass(frozen=True)
class Verdict:
    status: int  # 200 (go on), 429 (over the limit) or 418 (banned)
    used: int
    retry_after: int = 0


@dataclass
class _Caller:
    window: int = -1
    used: int = 0
    backoff_until: float = 0.0  # the last 429's Retry-After, as a monotonic time
    banned_until: float = 0.0


@dataclass
class IpWeightLimit:
    limit: int
    window_seconds: float = 60.0
    ban_seconds: int = 120
    _callers: dict[str, _Caller] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    peak_used: int = 0
    rate_limited: int = 0
    banned: int = 0

    def admit(self, ip: str, weight: int, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window = math.floor(now / self.window_seconds)
        window_end = (window + 1) * self.window_seconds
        with self._lock:
            caller = self._callers.setdefault(ip, _Caller())
            if caller.window != window:
                caller.window, caller.used = window, 0
            if now < caller.banned_until:
                self.banned += 1
                return Verdict(418, caller.used, math.ceil(caller.banned_until - now))
            if now < caller.backoff_until:
                # Kept sending after a 429: Binance bans the IP.
                caller.banned_until = now + self.ban_seconds
                self.banned += 1
                return Verdict(418, caller.used, self.ban_seconds)
            if caller.used + weight > self.limit:
                caller.backoff_until = window_end
                self.rate_limited += 1
                return Verdict(429, caller.used, max(1, math.ceil(window_end - now)))
            caller.used += weight
            self.peak_used = max(self.peak_used, caller.used)
            return Verdict(200, caller.used)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "limit": self.limit,
                "peak_used": self.peak_used,
                "rate_limited": self.rate_limited,
                "banned": self.banned,
            }
