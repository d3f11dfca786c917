"""ccxt exceptions → our failure codes, by class (never by message text), at the adapter boundary.

    code                  transient  retried inside the worker     ccxt class (or HTTP status)
    banned                yes        never (the venue's breaker)   HTTP 418, DDoSProtection other than a 429
    rate_limited          yes        if Retry-After is short       HTTP 429, RateLimitExceeded
    timeout               yes        yes, bounded                  RequestTimeout
    exchange_unavailable  yes        yes, bounded                  ExchangeNotAvailable/OnMaintenance, other
                                                                   NetworkError (InvalidNonce), other errors
    malformed_response    yes        once                          BadResponse/NullResponse, unreadable body
    invalid_credentials   no         -                             AuthenticationError
    permission_denied     no         -                             PermissionDenied, AccountNotEnabled
    account_suspended     no         -                             AccountSuspended
    order_not_found       no         -                             OrderNotFound (only probes expect it)
    exchange_rejected     no         -                             BadRequest, ArgumentsRequired, NotSupported

`ExchangeError` itself (a venue error ccxt could not classify) is `exchange_unavailable`: transient, so the
sync engine backs off and tries later instead of giving up on a key that may well be fine.
"""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Without a Retry-After header: Binance's shortest ban is two minutes; a rate limit clears within a minute.
DEFAULT_BAN_SECONDS = 120.0
DEFAULT_RATE_LIMIT_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 7 * 86_400.0


@dataclass
class CallFailure(Exception):
    """One failed exchange call, classified. `body` is the venue's decoded error answer, kept only in memory so
    that a probe can read the venue's own error code; it never leaves the worker."""

    code: str
    transient: bool
    retry_after: float | None = None
    status: int | None = None
    body: Any = None
    error_class: str = ""

    def __str__(self) -> str:
        return f"{self.code} ({self.error_class}, HTTP {self.status})"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a delta ("7") or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def decode_body(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def classify(exc: BaseException, *, status: int | None, retry_after: float | None, body: Any = None) -> CallFailure:
    import ccxt  # the worker only

    def failure(code: str, transient: bool, wait: float | None = None) -> CallFailure:
        return CallFailure(code, transient, wait, status, body, type(exc).__name__)

    if status == 418:
        return failure("banned", True, retry_after or DEFAULT_BAN_SECONDS)
    if status == 429 or isinstance(exc, ccxt.RateLimitExceeded):
        return failure("rate_limited", True, retry_after or DEFAULT_RATE_LIMIT_SECONDS)
    if isinstance(exc, ccxt.DDoSProtection):
        return failure("banned", True, retry_after or DEFAULT_BAN_SECONDS)
    if isinstance(exc, ccxt.RequestTimeout):
        return failure("timeout", True)
    if isinstance(exc, ccxt.BadResponse):
        return failure("malformed_response", True)
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return failure("exchange_unavailable", True, retry_after)
    if isinstance(exc, ccxt.AccountSuspended):
        return failure("account_suspended", False)
    if isinstance(exc, ccxt.PermissionDenied):
        return failure("permission_denied", False)
    if isinstance(exc, ccxt.AuthenticationError):
        return failure("invalid_credentials", False)
    if isinstance(exc, ccxt.OrderNotFound):
        return failure("order_not_found", False)
    if isinstance(exc, ccxt.BadRequest | ccxt.ArgumentsRequired | ccxt.NotSupported):
        return failure("exchange_rejected", False)
    return failure("exchange_unavailable", True, retry_after)


# Codes the worker may retry on its own (bounded); the rest go straight back to the caller.
INLINE_RETRY = frozenset({"timeout", "exchange_unavailable", "malformed_response", "rate_limited"})
