"""Token format `th_<12 hex id>_<43 url-safe chars>`: the id finds the row, the secret part is compared with
`hmac.compare_digest` against its stored SHA-256, so the comparison takes the same time however much matches.
256 bits of randomness make a slow password hash unnecessary. Every token expires (`expires_at`); a revoked or
expired token is refused exactly like a wrong one."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.auth.repository import AccessTokenRepository
from tallyhold.errors import NotFound, Unauthorized
from tallyhold.logging import secrets as secret_registry
from tallyhold.models import AccessToken

TOKEN_PATTERN = re.compile(r"^th_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")
MAX_LIFETIME_DAYS = 3650


class TokenState(StrEnum):
    active = "active"
    expired = "expired"
    revoked = "revoked"


@dataclass(frozen=True)
class IssuedToken:
    id: str
    label: str
    expires_at: datetime
    token: str  # shown once to the operator, never stored

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.id!r}, label={self.label!r}, token='**********')"


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never its secret, nor the digest of it."""

    id: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    state: TokenState

    @classmethod
    def of(cls, row: AccessToken, now: datetime) -> TokenInfo:
        state = TokenState.active
        if row.revoked_at is not None:
            state = TokenState.revoked
        elif row.expires_at <= now:
            state = TokenState.expired
        return cls(row.id, row.label, row.created_at, row.expires_at, row.last_used_at, row.revoked_at, state)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "state": self.state.value,
        }


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


async def issue(session: AsyncSession, label: str, lifetime: timedelta) -> IssuedToken:
    if not timedelta(0) < lifetime <= timedelta(days=MAX_LIFETIME_DAYS):
        raise ValueError(f"a token's lifetime is between 1 and {MAX_LIFETIME_DAYS} days")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = f"th_{token_id}_{secret}"
    secret_registry.add(token)
    now = datetime.now(UTC)
    await AccessTokenRepository(session).add(
        AccessToken(id=token_id, label=label, secret_hash=_digest(secret), created_at=now, expires_at=now + lifetime)
    )
    return IssuedToken(id=token_id, label=label, expires_at=now + lifetime, token=token)


async def revoke(session: AsyncSession, token_id: str) -> None:
    """Takes effect at once: every request reads its token's committed row (auth/lookup.py), nothing cached."""
    if not await AccessTokenRepository(session).revoke(token_id, datetime.now(UTC)):
        raise NotFound("No active token with that id.")


async def revoke_labelled(session: AsyncSession, label: str, *, keep: str) -> list[str]:
    """Revokes every unrevoked token with this label except `keep`; returns their ids."""
    return await AccessTokenRepository(session).revoke_labelled(label, keep, datetime.now(UTC))


async def list_tokens(session: AsyncSession) -> list[TokenInfo]:
    now = datetime.now(UTC)
    return [TokenInfo.of(row, now) for row in await AccessTokenRepository(session).all()]


async def authenticate(session: AsyncSession, presented: str) -> AccessToken:
    """The token's row when `presented` is a valid, unrevoked, unexpired token; Unauthorized otherwise. Reads
    only: the last-used time is written apart (auth/last_used.py)."""
    return await authenticate_with(AccessTokenRepository(session).get, presented)


async def authenticate_with(find: Callable[[str], Awaitable[AccessToken | None]], presented: str) -> AccessToken:
    """`authenticate` with the row read by `find(token_id)` (the API's requests use auth/lookup.py)."""
    match = TOKEN_PATTERN.fullmatch(presented)
    row = await find(match["id"]) if match else None
    # Compare even when there is no row, against a dummy digest, so a miss costs what a hit costs.
    expected = row.secret_hash if row is not None else _DUMMY_DIGEST
    supplied = _digest(match["secret"]) if match else _DUMMY_DIGEST_MISMATCH
    if not hmac.compare_digest(expected, supplied) or row is None or not _usable(row):
        raise Unauthorized()
    return row


async def confirm_active(session: AsyncSession, token_id: str) -> None:
    """For a write that follows a slow outside call: refuse (401) when the token was revoked meanwhile (or
    expired). The row is read FOR SHARE, so a revocation either committed before this or waits for this short
    transaction."""
    row = await AccessTokenRepository(session).get_for_share(token_id)
    if row is None or not _usable(row):
        raise Unauthorized()


def usable(row: AccessToken) -> bool:
    """Neither revoked nor expired (the web pages' sessions check their token with this on every request)."""
    return _usable(row)


def _usable(row: AccessToken) -> bool:
    return row.revoked_at is None and row.expires_at > datetime.now(UTC)


_DUMMY_DIGEST = _digest("x" * 43)
_DUMMY_DIGEST_MISMATCH = _digest("y" * 43)
