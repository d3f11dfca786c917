"""The real CredentialVerifier: asks the exchange itself, through the egress worker, what a key may do.

Runs in the API process, before any cipher call or row write (exchanges/verification.py has the contract).
Refusals, in the order they are decided:
    400 unsupported_exchange      not in exchanges/registry.py
    422 invalid_credentials       a part the venue needs is missing (`missing`), or the venue rejected the key
    422 unverifiable_permissions  a venue without permission endpoint, without `acknowledge_unverifiable`
    422 write_permissions         `switch_off`: what to disable, in the venue's own words
    422 missing_read_permission   `switch_on`: the read permission the key lacks
    502 exchange_unavailable      the venue failed, limited us, or answered something unreadable
    503 exchange_budget_busy      the check's turn in the egress pool's queue for the venue's per-IP budget is
                                  further off than a check waits (`key_check_budget_wait`): Retry-After says when
    504 exchange_unavailable      the venue did not answer in time
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from tallyhold.egress.budget import POOL_QUEUE
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.errors import BadRequest, ServiceUnavailable, TallyholdError, Unprocessable, UpstreamError
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.registry import venue_info
from tallyhold.exchanges.verification import KeyVerification, Permissions
from tallyhold.exchanges.wire import VerifyReply, VerifyRequest
from tallyhold.metrics import CREDENTIALS_REJECTED
from tallyhold.settings import Settings

logger = logging.getLogger("tallyhold.exchanges")
EXPIRY_WARNING = timedelta(days=14)


class UpstreamTimeout(UpstreamError):
    status_code = 504
    default_code = "exchange_unavailable"


class ExchangeBudgetBusy(ServiceUnavailable):
    """The venue is fine and was not asked: this IP's budget for it is queued past what a key check waits."""

    default_code = "exchange_budget_busy"

    def __init__(self, venue: str, retry_after: float | None) -> None:
        # Whole seconds, at least one: the turn itself (the pool keeps the instance's place until shortly after).
        self.retry_after = max(1, math.ceil(retry_after or 0.0))
        super().__init__(
            f"{venue}'s request budget for this server's address is in use; the key check's turn comes in about "
            f"{self.retry_after} s. Try again then; nothing was stored.",
            retry_after=self.retry_after,
        )

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class ExchangeCredentialVerifier:
    def __init__(self, egress: EgressClient, settings: Settings) -> None:
        self._egress = egress
        self._settings = settings

    async def verify(self, exchange: str, key: ExchangeKey, *, acknowledge_unverifiable: bool) -> KeyVerification:
        try:
            return await self._verify(exchange, key, acknowledge_unverifiable=acknowledge_unverifiable)
        except TallyholdError as refused:
            CREDENTIALS_REJECTED.labels(refused.code).inc()
            logger.info("exchange key refused", extra={"exchange": exchange, "code": refused.code})
            raise

    async def _verify(self, exchange: str, key: ExchangeKey, *, acknowledge_unverifiable: bool) -> KeyVerification:
        info = venue_info(exchange)
        if info is None:
            raise BadRequest("This exchange is not supported.", code="unsupported_exchange")
        missing = [part for part in info.credentials if getattr(key, part) is None]
        if missing:
            raise Unprocessable(
                f"{info.name} keys come with {' and '.join(missing)}; it is missing.",
                code="invalid_credentials",
                missing=missing,
            )
        if info.verification == "unverifiable" and not acknowledge_unverifiable:
            raise Unprocessable(
                f"{info.name} offers no way to check what an API key may do, so Tallyhold cannot prove this key is "
                "read-only. Create a key with only view/read rights and resend with "
                "`acknowledge_unverifiable: true`; the connection will be labelled unverifiable.",
                code="unverifiable_permissions",
            )
        request = VerifyRequest(
            exchange=exchange, key=key.for_venue(info.credentials), acknowledge_unverifiable=acknowledge_unverifiable
        )
        try:
            reply = await self._egress.call("exchange.verify", request, VerifyReply)
        except EgressError as failure:
            raise refusal(info.name, failure) from None
        report = reply.report
        # Second line of defence: whatever the worker concluded, a report that grants any write right, or that
        # it did not itself accept, is never turned into a stored key.
        if not report.accepted or report.trade or report.withdraw or report.transfer:
            raise Unprocessable(
                f"This key can do more than read. On {info.name}, switch off: "
                f"{'; '.join(_bounded(report.switch_off)) or 'every permission except reading'}.",
                code="write_permissions",
                switch_off=_bounded(report.switch_off),
            )
        return KeyVerification(
            permissions=Permissions.model_validate(report.permissions()),
            ip_restricted=report.ip_restricted,
            key_expires_at=report.key_expires_at,
            key_created_at=report.key_created_at,
            warnings=self.warnings(info.name, report.verified_by, report.ip_restricted, report.key_expires_at),
        )

    def warnings(
        self, venue: str, verified_by: str, ip_restricted: bool | None, expires_at: datetime | None
    ) -> list[str]:
        notes: list[str] = []
        if verified_by == "unverifiable":
            notes.append(
                f"{venue} cannot report a key's permissions: this key is accepted on your word that it is read-only."
            )
        if self._settings.egress.ips and ip_restricted is False:
            ips = ", ".join(str(ip) for ip in self._settings.egress.ips)
            notes.append(f"This key is not IP-restricted; restrict it on {venue} to {ips}.")
        if expires_at is not None and expires_at - datetime.now(UTC) < EXPIRY_WARNING:
            notes.append(f"This key expires on {expires_at.date().isoformat()}; replace it before then.")
        return notes


def refusal(venue: str, failure: EgressError) -> TallyholdError:
    """An egress failure of `exchange.verify` as the HTTP error the connection routes answer with."""
    details: dict[str, Any] = failure.failure.details
    code = failure.code
    if code == "write_permissions":
        switch_off = _bounded(details.get("switch_off", []))
        return Unprocessable(
            f"This key can do more than read. On {venue}, switch off: {'; '.join(switch_off)}.",
            code="write_permissions",
            switch_off=switch_off,
            permissions=details.get("permissions"),
        )
    if code == "missing_read_permission":
        switch_on = _bounded(details.get("switch_on", []))
        return Unprocessable(
            f"This key cannot read your balances. On {venue}, switch on: {'; '.join(switch_on)}.",
            code="missing_read_permission",
            switch_on=switch_on,
        )
    if code in {"invalid_credentials", "permission_denied", "account_suspended"}:
        return Unprocessable(
            f"{venue} rejected this key (wrong, revoked or expired key, or an IP restriction that excludes "
            "Tallyhold's egress addresses).",
            code="invalid_credentials",
            reason=code,
        )
    if code == "probe_inconclusive":
        return Unprocessable(
            f"{venue} answered the permission probe in a way that proves nothing, so this key cannot be accepted. "
            "Make sure the key has no trading rights and try again.",
            code="unverifiable_permissions",
            reason=code,
        )
    if code == "unverifiable_permissions":
        return Unprocessable("This exchange cannot report a key's permissions.", code="unverifiable_permissions")
    if code == "unsupported_exchange":
        return BadRequest("This exchange is not supported.", code="unsupported_exchange")
    if details.get("held_by") == POOL_QUEUE:
        return ExchangeBudgetBusy(venue, failure.failure.retry_after)
    if code in {"timeout", "egress_timeout"}:
        return UpstreamTimeout(f"{venue} did not answer in time; try again.", reason=code)
    extra: dict[str, Any] = {"reason": code}
    if failure.failure.retry_after is not None:
        extra["retry_after"] = failure.failure.retry_after
    return UpstreamError(
        f"{venue} could not confirm this key's permissions; try again.", code="exchange_unavailable", **extra
    )


def _bounded(words: Any) -> list[str]:
    """Permission names partly come from the venue's answer: bounded and printable before they reach a body."""
    if not isinstance(words, list):
        return []
    cleaned = ("".join(ch for ch in str(word) if ch.isprintable())[:80] for word in words[:20])
    return [word for word in cleaned if word]
