"""Throttling of failed authentication per client address, for the API's bearer tokens and the sign-in form.

    throttle = FailureThrottle(limit=10, window_seconds=60)
    key = client_key(request.client.host if request.client else None)
    ...the credential was wrong...
    wait = throttle.record_failure(key)
    if wait is not None:
        -> 429 with `Retry-After: retry_after_header(wait)`
    else:
        -> 401 as usual

An address may fail `limit` times in a burst; each failure is forgiven after `window_seconds / limit` seconds
(GCRA, the leaky bucket as a single timestamp per address). A failure beyond the burst is answered with the
time until the next one would be forgiven, and is not counted (so `Retry-After` is exact: a client that waits
that long gets a plain 401 again, not a longer wait).

Only failures are counted, and a valid credential is never refused or delayed: the caller checks the credential
first and asks the throttle only when it was wrong. A success does not reset the count either, or anyone
holding one valid token could interleave it with guesses. Checking a blocked address's credentials still tells
a guesser right from wrong; that is deliberate (a customer behind the same NAT as an attacker keeps working)
and safe for bearer tokens, whose 256 random bits no guessing rate can find. What the throttle buys is a
hard stop for clients stuck on a revoked or expired token and for floods, and `tallyhold_api_errors_total`
counts the 429s.

Memory: one float per address, in a table of at most `max_clients` entries (about 100 bytes each); when it is
full, the address whose last failure is oldest is forgotten first. IPv6 clients are counted per /64, the
block one subscriber usually gets, so an attacker cannot multiply its budget by rotating addresses in it.
Per-address throttling does not stop a guesser with many addresses; the token's entropy does.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from ipaddress import IPv6Address, IPv6Network, ip_address

UNKNOWN_CLIENT = "unknown"


def client_key(host: str | None) -> str:
    """The throttle's key for a peer address: the address itself for IPv4, its /64 for IPv6 (an IPv4-mapped IPv6
    address counts as its IPv4 address). A peer without an IP address (a Unix socket) shares one key."""
    if not host:
        return UNKNOWN_CLIENT
    try:
        address = ip_address(host)
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


def retry_after_header(wait: float) -> str:
    """`Retry-After` in whole seconds, rounded up so a client that obeys it is not refused again."""
    return str(max(1, math.ceil(wait)))


class FailureThrottle:
    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0 or max_clients < 1:
            raise ValueError("limit, window_seconds and max_clients must be positive")
        self.limit = limit
        self.window = float(window_seconds)
        self.interval = self.window / limit  # one failure is forgiven per interval
        self.max_clients = max_clients
        self._clock = clock
        # client key -> the time at which all its counted failures are forgiven (GCRA's "theoretical arrival
        # time"); ordered by last counted failure, oldest first.
        self._forgiven_at: OrderedDict[str, float] = OrderedDict()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may fail again without being refused; None when it may now. Counts nothing."""
        now = self._clock()
        forgiven_at = self._forgiven_at.get(client, now)
        wait = max(forgiven_at, now) + self.interval - self.window - now
        return wait if wait > 0 else None

    def record_failure(self, client: str) -> float | None:
        """Count one failed authentication of `client`. None: within its budget (answer as a failure, 401);
        a number: it is over, answer 429 with that many seconds in `Retry-After` (the failure is not counted)."""
        wait = self.retry_after(client)
        if wait is not None:
            return wait
        now = self._clock()
        self._forgiven_at[client] = max(self._forgiven_at.get(client, now), now) + self.interval
        self._forgiven_at.move_to_end(client)
        while len(self._forgiven_at) > self.max_clients:
            self._forgiven_at.popitem(last=False)
        return None

    def __len__(self) -> int:
        return len(self._forgiven_at)
