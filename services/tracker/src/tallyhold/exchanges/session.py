"""A ccxt exchange object for one request, in the egress worker only (ccxt is imported here, lazily).

`open_session` builds the venue's ccxt async class with the key, points every `urls['api']` entry at the
configured override (scheme and host replaced, paths kept), and installs three hooks on the instance:
- the transport guard on `fetch` (guard.py): only declared endpoints, never a denylisted one;
- a response hook that records the HTTP status, Retry-After and error body of each response for the call
  that made it (a context variable, so concurrent calls on one instance do not mix them up);
- a strict JSON decoder: numbers as Decimal (exact), NaN/Infinity refused (the body then reads as malformed).
ccxt never calls `load_markets` here: adapters use implicit endpoints only, so no market or currency
download happens (and nothing is fetched that the guard has not been told about).

`VenueApi.call` runs one implicit method with bounded retries (full-jitter exponential backoff) for
transient failures, waits out a short Retry-After, and raises `CallFailure` for everything else.

The price venues (prices/tickers.py) use the same pieces on their keyless exchange objects: `point_at` for
the overrides, `record_responses` (response hook and strict JSON) and `translated` (ccxt errors → CallFailure),
so a ban, a rate limit or a Retry-After means one thing whatever the call was for.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tallyhold.egress.budget import CURRENT as CURRENT_BUDGET
from tallyhold.egress.budget import POOL_HOLD, POOL_QUEUE, Budget, BudgetUnavailable
from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.denylist import denied
from tallyhold.exchanges.errors import INLINE_RETRY, CallFailure, classify, decode_body, retry_after_seconds
from tallyhold.exchanges.guard import ForbiddenRequest, TransportGuard, endpoints_of, request_cost
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.tls import share_tls_context
from tallyhold.exchanges.venues.base import Adapter
from tallyhold.logging import pin_third_party_loggers

_MAX_ERROR_BODY = 4096
T = TypeVar("T")


@dataclass
class CallPolicy:
    attempts: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 4.0
    # A 429 whose Retry-After is at most this is waited out inside the worker; longer ones go to the engine.
    inline_retry_after: float = 3.0
    timeout: float = 10.0
    # ccxt's per-venue request-cost throttle (leaky bucket at the venue's documented rate). On in production;
    # tests against the sandbox, which has no limits, turn it off.
    rate_limit: bool = True
    # The bucket starts full with this many syncs' worth of calls (each declared method once, at its ccxt
    # cost): one sync goes out at once, like any client's first requests inside the venue's window, and only
    # what goes beyond it (paging, retries) waits for the bucket to refill.
    burst_syncs: float = 1.0
    # The budget shared by every instance behind one egress IP (egress/budget.py), for venues with a per-IP
    # limit. The instance's settings turn it on (EXCHANGE_SHARED_BUDGET); a bare EgressConfig (tests) has it off.
    shared_budget: bool = False
    # A shared-budget wait longer than this (a ban, a turn in the pool's queue windows away) is not waited out
    # inside the call: it fails as rate_limited/banned with that Retry-After, and the engine comes back then.
    budget_wait_max: float = 30.0
    # A key check's user waits on the HTTP request: all of the check's shared-budget waits together stay within
    # this, far below the 60 s at which common reverse proxies and load balancers give up. A turn further off
    # fails the check as `exchange_budget_busy` with the turn's Retry-After (the pool keeps the instance's place
    # until shortly after it), never as the venue failing.
    key_check_budget_wait: float = 20.0
    # A customer waits on this session's answer (a key check): its budget requests go in the pool's interactive
    # lane (served ahead of the queue while the lane has room), and all its waits together stay within
    # `key_check_budget_wait`. Otherwise (a sync) each wait is bounded on its own (`budget_wait_max`).
    interactive: bool = False

    @classmethod
    def from_config(cls, config: EgressConfig) -> CallPolicy:
        """Defaults, tuned by `config.options["exchanges"]` (tests and benches shorten the waits)."""
        tuning = config.options.get("exchanges") or {}
        policy = cls()
        for name in (
            "backoff_base",
            "backoff_cap",
            "inline_retry_after",
            "timeout",
            "burst_syncs",
            "budget_wait_max",
            "key_check_budget_wait",
        ):
            if name in tuning:
                setattr(policy, name, float(tuning[name]))
        if "attempts" in tuning:
            policy.attempts = max(1, int(tuning["attempts"]))
        if "rate_limit" in tuning:
            policy.rate_limit = bool(tuning["rate_limit"])
        if "shared_budget" in tuning:
            policy.shared_budget = bool(tuning["shared_budget"])
        return policy

    def backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


@dataclass
class _Response:
    status: int | None = None
    retry_after: float | None = None
    body: str | None = None


_RESPONSE: contextvars.ContextVar[_Response | None] = contextvars.ContextVar(
    "tallyhold_exchange_response", default=None
)


class ForbiddenCall(Exception):
    """An adapter asked for a method it did not declare, or a denylisted one. A bug, reported as such."""


class VenueApi:
    def __init__(self, adapter: Adapter, exchange: Any, key: ExchangeKey, policy: CallPolicy) -> None:
        self.venue = adapter.info.id
        self._adapter = adapter
        self._exchange = exchange
        self._key_id = key.api_key.get_secret_value()
        self._policy = policy
        self._denied = denied(self.venue)
        self.requests = 0
        self._budget_waited = 0.0

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def common_codes(self) -> dict[str, str]:
        """ccxt's code map of the venue (XBT → BTC, ...): part of its class description, no network."""
        common = getattr(self._exchange, "commonCurrencies", None) or {}
        return {str(k).upper(): str(v) for k, v in common.items()}

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if method in self._denied or method not in self._adapter.methods:
            raise ForbiddenCall(f"{self.venue}.{method} is not a declared read method")
        function = getattr(self._exchange, method)
        attempt = 0
        while True:
            try:
                await self._spend(method)
                self.requests += 1
                return await translated(function(dict(params or {})))
            except CallFailure as exc:
                failure = exc
            await self._hold_back_sharers(failure)
            attempt += 1
            wait = self._retry_wait(failure, attempt)
            if wait is None:
                raise failure
            await asyncio.sleep(wait)

    def _budget(self) -> Budget | None:
        """The shared budget when this venue has a per-IP limit and the instance shares it; else None."""
        if self._adapter.ip_limit is None or not self._policy.shared_budget:
            return None
        budget = CURRENT_BUDGET.get()
        if budget is None:
            raise CallFailure(BudgetUnavailable.code, True)
        return budget

    async def _spend(self, method: str) -> None:
        """Waits until the shared budget grants this request's weight (fail closed: no budget, no request)."""
        budget = self._budget()
        if budget is None:
            return
        weight = self._adapter.weight(method)
        while True:
            try:
                grant = await budget.acquire(self.venue, weight, interactive=self._policy.interactive)
            except BudgetUnavailable:
                raise CallFailure(BudgetUnavailable.code, True) from None
            if grant.wait <= 0:
                return
            if grant.hold is not None:
                # A held pool is the venue's own verdict (a 429's Retry-After, a ban), reported as such so the
                # engine holds the venue's other sources back too.
                raise CallFailure(grant.hold, True, grant.wait, error_class=POOL_HOLD)
            if grant.wait > self._budget_wait_left():
                # The pool is busy, not held: the sync gives its slot back and comes back at its turn (the pool
                # keeps its place in the queue until then); a key check answers when to try again.
                raise CallFailure("rate_limited", True, grant.wait, error_class=POOL_QUEUE)
            self._budget_waited += grant.wait
            # a little spread, so that the sharers told to wait for the same moment do not all ask at once
            await asyncio.sleep(grant.wait + random.uniform(0, min(1.0, grant.wait / 10)))

    def _budget_wait_left(self) -> float:
        if self._policy.interactive:
            return self._policy.key_check_budget_wait - self._budget_waited
        return self._policy.budget_wait_max

    async def _hold_back_sharers(self, failure: CallFailure) -> None:
        """A ban or a 429 from a venue with a per-IP limit concerns every instance on this IP: tell the budget."""
        if failure.code not in {"banned", "rate_limited"} or failure.status not in {418, 429}:
            return
        budget = self._budget()
        if budget is None:
            return
        # The venue's own answer stays the call's failure; if the budget is unreachable, the next request this
        # worker would send is refused anyway (fail closed in _spend).
        with contextlib.suppress(BudgetUnavailable):
            await budget.hold_back(self.venue, failure.retry_after or 0.0, banned=failure.code == "banned")

    def _retry_wait(self, failure: CallFailure, attempt: int) -> float | None:
        if failure.code not in INLINE_RETRY or attempt >= self._policy.attempts:
            return None
        if failure.code == "malformed_response" and attempt > 1:
            return None  # a garbled answer gets one more chance, not several
        if failure.code == "rate_limited":
            wait = failure.retry_after or 0.0
            return wait if wait <= self._policy.inline_retry_after else None
        return max(self._policy.backoff(attempt - 1), failure.retry_after or 0.0)


async def translated(call: Awaitable[T]) -> T:
    """Awaits one ccxt call on an exchange that has `record_responses`; a ccxt error comes out as a CallFailure,
    classified by the HTTP status and Retry-After of the answer that caused it and by class (errors.py)."""
    import ccxt

    response = _Response()
    token = _RESPONSE.set(response)
    try:
        return await call
    except ccxt.BaseError as exc:
        raise classify(
            exc, status=response.status, retry_after=response.retry_after, body=decode_body(response.body)
        ) from None
    finally:
        _RESPONSE.reset(token)


def point_at(urls: Any, base: str) -> Any:
    """Every URL in ccxt's `urls['api']` (nested dicts) with scheme and host replaced by `base`; path and query
    kept (EXCHANGE_API_OVERRIDES, for the exchange adapters and the price venues alike)."""
    if isinstance(urls, str):
        parts = urlsplit(urls)
        return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    if isinstance(urls, dict):
        return {name: point_at(value, base) for name, value in urls.items()}
    return urls


def _refuse_constant(constant: str) -> Any:
    raise ValueError("non-finite number")


def exchange_class(venue: str) -> type[Any]:
    module = importlib.import_module("ccxt.async_support")
    klass: type[Any] = getattr(module, venue)
    return klass


@asynccontextmanager
async def open_session(
    adapter: Adapter, key: ExchangeKey, config: EgressConfig, policy: CallPolicy | None = None
) -> AsyncIterator[VenueApi]:
    policy = policy or CallPolicy.from_config(config)
    venue = adapter.info.id
    # ccxt logs request headers (API keys) and bodies at DEBUG: keep its loggers at WARNING whatever the root
    # level, here too, not only where the process configured its logging.
    pin_third_party_loggers()
    klass = exchange_class(venue)
    guard = TransportGuard(endpoints_of(klass, adapter.methods), endpoints_of(klass, sorted(denied(venue))))
    settings: dict[str, Any] = {
        "apiKey": key.api_key.get_secret_value(),
        "secret": key.api_secret.get_secret_value(),
        "enableRateLimit": policy.rate_limit,
        "timeout": int(policy.timeout * 1000),
    }
    if key.passphrase is not None:
        settings["password"] = key.passphrase.get_secret_value()
    if key.uid is not None:
        settings["uid"] = key.uid.get_secret_value()
    if policy.rate_limit:
        burst = max(1.0, policy.burst_syncs * request_cost(klass, adapter.methods))
        settings["tokenBucket"] = {"capacity": burst, "tokens": burst}
    exchange = klass(settings)
    override = config.exchange_api_overrides.get(venue)
    if override:
        exchange.urls["api"] = point_at(exchange.urls["api"], override)
    _guard_transport(exchange, guard)
    record_responses(exchange)
    share_tls_context(exchange)
    _map_venue_errors(exchange, adapter)
    try:
        yield VenueApi(adapter, exchange, key, policy)
    finally:
        await exchange.close()


def _map_venue_errors(exchange: Any, adapter: Adapter) -> None:
    if not adapter.unmapped_errors:
        return
    import ccxt

    exact = {name: getattr(ccxt, error_class) for name, error_class in adapter.unmapped_errors.items()}
    # A copy, never an in-place update: the table must not leak into other exchange objects.
    exchange.exceptions = {**exchange.exceptions, "exact": {**exchange.exceptions.get("exact", {}), **exact}}


def _guard_transport(exchange: Any, guard: TransportGuard) -> None:
    fetch = exchange.fetch

    async def guarded_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        guard.check(method, url)
        return await fetch(url, method, headers, body)

    exchange.fetch = guarded_fetch


def record_responses(exchange: Any, numbers: Callable[[str], Any] = Decimal) -> None:
    """Installs, on one ccxt exchange object, the response hook that `translated` reads (HTTP status,
    Retry-After and error body of each answer, for the call that made it) and the strict JSON decoder: every
    JSON number with a fraction or exponent goes to `numbers` as its exact text (Decimal for the adapters,
    which read the payload themselves; `str` where ccxt's unified parsers read it, since their `safe_string`
    ignores Decimal values), and NaN/Infinity make the body unreadable."""
    on_rest_response = exchange.on_rest_response

    def record(
        code: Any, reason: Any, url: Any, method: Any, headers: Any, body: Any, req_headers: Any, req_body: Any
    ) -> Any:
        response = _RESPONSE.get()
        if response is not None:
            response.status = int(code) if isinstance(code, int) else None
            if isinstance(headers, Mapping):
                value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
                response.retry_after = retry_after_seconds(value if isinstance(value, str) else None)
            if isinstance(body, str):
                # Kept in case the call fails (venues put their error code in the body, often with HTTP 200).
                response.body = body[:_MAX_ERROR_BODY]
        return on_rest_response(code, reason, url, method, headers, body, req_headers, req_body)

    exchange.on_rest_response = record
    exchange.on_json_response = partial(json.loads, parse_float=numbers, parse_constant=_refuse_constant)


__all__ = [
    "CallPolicy",
    "ForbiddenCall",
    "ForbiddenRequest",
    "VenueApi",
    "open_session",
    "point_at",
    "record_responses",
    "translated",
]
