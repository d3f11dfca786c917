"""The instance's Vault session: login (token, AppRole, Kubernetes), background renewal, re-login on 403 or
expiry, availability, metrics, and every blocking hvac call run off the event loop with a timeout.

Availability is a state, not a guess: `available` is False from the first failed call (unreachable, sealed,
timed out, or identity refused after a fresh login) until a later call succeeds. While it is False the
maintenance task probes every `RETRY_SECONDS` (lookup-self, logging in again when the token was lost), so
the instance recovers on its own once Vault is back: no restart.

Token care: a token is renewed when two thirds of its lease have passed; when renewal is refused, or can no
longer extend the lease (the role's max TTL is near), the session logs in again. A 403 on any call triggers one
new login (shared by every call that saw the same stale token) and one retry of that call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import hvac
import hvac.exceptions

from tallyhold.credentials import transit
from tallyhold.credentials.delivery import delivered_secret_id
from tallyhold.credentials.errors import TransitRejected, VaultUnavailable
from tallyhold.credentials.transit import VaultForbidden
from tallyhold.logging import secrets
from tallyhold.metrics import (
    VAULT_LOGINS,
    VAULT_REQUEST_DURATION,
    VAULT_REQUESTS,
    VAULT_TOKEN_RENEWALS,
    VAULT_TOKEN_TTL,
    VAULT_UP,
)
from tallyhold.settings import Settings, VaultAuth

logger = logging.getLogger("tallyhold.credentials.vault")
T = TypeVar("T")

RETRY_SECONDS = 2.0
IDLE_CHECK_SECONDS = 60.0
MIN_RENEW_DELAY = 0.2
THREADS = 4


class VaultSession:
    def __init__(self, settings: Settings) -> None:
        if settings.vault.addr is None:
            raise ValueError("VAULT_ADDR is not set")
        self.settings = settings
        self.method = settings.vault.auth
        self.timeout = settings.vault.timeout_seconds
        # token="" keeps hvac from picking up a VAULT_TOKEN variable or ~/.vault-token on its own.
        self.client = hvac.Client(
            url=str(settings.vault.addr).rstrip("/"),
            token="",
            timeout=self.timeout,
            verify=settings.vault.cacert or True,
        )
        for value in (settings.vault.token, settings.vault.secret_id, settings.vault.wrapped_secret_id):
            if value is not None:
                secrets.add(value.get_secret_value())
        self._executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="vault")
        self._login_lock = asyncio.Lock()
        self._generation = 0  # +1 at every successful login: calls that saw a stale token share one re-login
        self._logged_in = False
        self._state = "down"
        self.reason = "starting"
        self._lease = 0.0  # lease of the current token at its login or last renewal (0 = never expires)
        self._expires_at: float | None = None
        self._renewable = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    # -- state -------------------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._state == "ok"

    @property
    def status(self) -> str:
        """`ok`, `down` (unreachable, sealed, failing) or `denied` (reachable, but refuses our identity)."""
        return self._state

    def _mark_up(self) -> None:
        if self._state != "ok":
            logger.info("vault available")
        self._state, self.reason = "ok", "ok"
        VAULT_UP.set(1)

    def _mark_down(self, reason: str) -> None:
        state = "denied" if reason == "denied" else "down"
        was_up = self._state == "ok"
        if self._state != state:
            logger.warning("vault unavailable", extra={"reason": reason})
        self._state, self.reason = state, reason
        VAULT_UP.set(0)
        if was_up:
            self._wake.set()  # the maintenance task switches to probing (only on the transition, so failing
            # calls cannot keep postponing its next probe)

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Log in (a failure is not fatal: the instance serves without credentials until Vault answers) and
        start the maintenance task."""
        VAULT_UP.set(0)
        with contextlib.suppress(VaultUnavailable):
            await self._login(self._generation)
        self._task = asyncio.create_task(self._maintain(), name="vault-session")

    async def aclose(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- calls -----------------------------------------------------------------------------------------

    async def call(self, op: str, fn: Callable[[hvac.Client], T]) -> T:
        """Run `fn(client)` in a worker thread. Raises VaultUnavailable, TransitRejected, or what `fn` raises."""
        if not self._logged_in:
            await self._login(self._generation)
        generation = self._generation
        try:
            return await self._attempt(op, fn)
        except VaultForbidden:
            pass
        if self.method is VaultAuth.token:
            self._mark_down("denied")
            raise VaultUnavailable("denied")
        await self._login(generation)
        try:
            return await self._attempt(op, fn)
        except VaultForbidden:
            self._mark_down("denied")
        raise VaultUnavailable("denied")

    async def probe(self) -> str:
        """Readiness: one authenticated round trip (lookup-self). Answers `ok`, `down` or `denied`."""
        try:
            data = await self.call("lookup", lambda c: c.auth.token.lookup_self()["data"])
        except VaultUnavailable:
            return self.status
        except TransitRejected:
            return "down"
        self._note_lease(float(data.get("ttl") or 0), bool(data.get("renewable")), refresh=False)
        return "ok"

    async def _attempt(self, op: str, fn: Callable[[hvac.Client], T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await self._run(fn)
        except VaultForbidden:
            outcome = "denied"
            raise
        except VaultUnavailable as exc:
            outcome = "unavailable"
            self._mark_down(exc.reason)
            raise
        except TransitRejected:
            outcome = "rejected"
            raise
        finally:
            VAULT_REQUESTS.labels(op, outcome).inc()
            VAULT_REQUEST_DURATION.labels(op).observe(time.perf_counter() - started)
        self._mark_up()
        return result

    async def _run(self, fn: Callable[[hvac.Client], T]) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, _guarded, fn, self.client)
        try:
            # hvac's own timeout bounds each HTTP request; this bounds the thread hand-off and any retry.
            return await asyncio.wait_for(future, timeout=self.timeout + 1.0)
        except TimeoutError:
            raise VaultUnavailable("timeout") from None

    # -- login and renewal -------------------------------------------------------------------------------

    async def _login(self, seen_generation: int) -> None:
        async with self._login_lock:
            if self._generation != seen_generation and self._logged_in:
                return  # another caller logged in while we waited: its token is fresh
            method = self.method.value
            try:
                lease, renewable = await self._attempt("login", self._login_blocking)
            except VaultForbidden:
                VAULT_LOGINS.labels(method, "denied").inc()
                self._mark_down("denied")
                raise VaultUnavailable("denied") from None
            except TransitRejected:
                # 400 from a login endpoint: unknown role, wrong secret id, JWT refused.
                VAULT_LOGINS.labels(method, "denied").inc()
                self._mark_down("denied")
                raise VaultUnavailable("denied") from None
            except VaultUnavailable:
                VAULT_LOGINS.labels(method, "unavailable").inc()
                raise
            VAULT_LOGINS.labels(method, "ok").inc()
            self._generation += 1
            self._logged_in = True
            self._note_lease(lease, renewable, refresh=True)
            self._wake.set()

    def _login_blocking(self, client: hvac.Client) -> tuple[float, bool]:
        # Settings refuse to load when the chosen method's values are missing (Settings._vault_complete).
        settings = self.settings
        if self.method is VaultAuth.token:
            client.token = _given(settings.vault.token).get_secret_value()
            data = client.auth.token.lookup_self()["data"]
            return float(data.get("ttl") or 0), bool(data.get("renewable"))
        if self.method is VaultAuth.approle:
            response = client.auth.approle.login(
                role_id=_given(settings.vault.role_id),
                secret_id=self._secret_id(),
                mount_point=settings.vault.approle_mount,
            )
        else:
            jwt = _read_jwt(Path(settings.vault.k8s_jwt_path))  # re-read at every login: projected tokens rotate
            response = client.auth.kubernetes.login(
                role=_given(settings.vault.k8s_role), jwt=jwt, mount_point=settings.vault.k8s_mount
            )
        auth = response["auth"]
        secrets.add(str(auth["client_token"]))
        return float(auth.get("lease_duration") or 0), bool(auth.get("renewable"))

    def _secret_id(self) -> str:
        """Given directly, or delivered wrapped by the provisioner (credentials/delivery.py)."""
        settings = self.settings
        if settings.vault.secret_id is not None:
            return settings.vault.secret_id.get_secret_value()
        role = _given(settings.vault.role_id)
        return delivered_secret_id(
            str(settings.vault.addr).rstrip("/"),
            _given(settings.vault.wrapped_secret_id).get_secret_value(),
            Path(_given(settings.vault.secret_id_file)),
            # The provisioner's tenant roles are named like their role id.
            creation_path=f"auth/{settings.vault.approle_mount}/role/{role}/secret-id",
            verify=settings.vault.cacert or True,
            timeout=self.timeout,
        )

    def _note_lease(self, lease: float, renewable: bool, *, refresh: bool) -> None:
        now = time.monotonic()
        if refresh or lease > 0:
            self._expires_at = now + lease if lease > 0 else None
            if refresh:
                self._lease = lease
            self._renewable = renewable
        VAULT_TOKEN_TTL.set(lease)

    async def _maintain(self) -> None:
        while not self._closed:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._next_delay())
                continue  # woken: state changed, recompute the delay
            except TimeoutError:
                pass
            try:
                await self._maintain_once()
            except (VaultUnavailable, TransitRejected):
                pass  # already counted and marked; the next round retries
            except Exception as exc:  # the task must outlive any surprise; only the class is logged
                logger.error("vault maintenance failed", extra={"error_type": type(exc).__name__})

    def _next_delay(self) -> float:
        if not self.available or not self._logged_in:
            return RETRY_SECONDS
        if self._expires_at is None:
            return IDLE_CHECK_SECONDS
        remaining = self._expires_at - time.monotonic()
        return max(MIN_RENEW_DELAY, remaining - self._lease / 3)

    async def _maintain_once(self) -> None:
        if not self._logged_in:
            await self._login(self._generation)
            return
        if not self.available:
            await self.probe()  # lookup-self; a 403 there logs in again
            return
        if self._expires_at is None:
            return
        can_login = self.method is not VaultAuth.token
        if not self._renewable:
            if can_login:
                await self._login(self._generation)
            return
        generation = self._generation
        try:
            data = await self._attempt("renew", lambda c: c.auth.token.renew_self()["auth"])
        except VaultForbidden:
            VAULT_TOKEN_RENEWALS.labels("denied").inc()
            if can_login:
                await self._login(generation)
            else:
                self._mark_down("denied")
            return
        except VaultUnavailable:
            VAULT_TOKEN_RENEWALS.labels("unavailable").inc()
            raise
        VAULT_TOKEN_RENEWALS.labels("ok").inc()
        lease = float(data.get("lease_duration") or 0)
        self._note_lease(lease, bool(data.get("renewable")), refresh=False)
        if can_login and lease < self._lease / 2:
            await self._login(generation)  # the role's max TTL caps renewals: a fresh login beats a short lease


def _given(value: T | None) -> T:
    if value is None:
        raise VaultUnavailable("denied")
    return value


def _read_jwt(path: Path) -> str:
    try:
        jwt = path.read_text().strip()
    except OSError:
        raise VaultUnavailable("denied") from None
    secrets.add(jwt)
    return jwt


def _guarded(fn: Callable[[hvac.Client], T], client: hvac.Client) -> T:
    """Runs in the worker thread: hvac/requests failures become our errors, by class, without chaining."""
    failure: Exception
    try:
        return fn(client)
    except (VaultUnavailable, TransitRejected, VaultForbidden):
        raise
    except Exception as exc:
        failure = transit.translate(exc)
    raise failure


def describe(session: VaultSession | None) -> dict[str, Any]:
    """Non-secret facts for logs and status pages."""
    if session is None:
        return {"vault": "not_configured"}
    return {"vault": session.status, "reason": session.reason, "method": session.method.value}
