"""Token format `th_<12 hex id>_<43 url-safe chars>`: the id finds the row, the secret part is compared with
`hmac.compare_digest` against its stored SHA-256, so the comparison takes the same time however much matches.
256 bits of randomness make a slow password hash unnecessary."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.auth.repository import AccessTokenRepository
from tallyhold.errors import NotFound, Unauthorized
from tallyhold.logging import secrets as secret_registry
from tallyhold.models import AccessToken

TOKEN_PATTERN = re.compile(r"^th_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
# Writing last_used_at on every request would turn each read into a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    id: str
    label: str
    token: str  # shown once to the operator, never stored

    def __repr__(self) -> str:
        return f"IssuedToken(id={self.id!r}, label={self.label!r}, token='**********')"


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


async def issue(session: AsyncSession, label: str) -> IssuedToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = f"th_{token_id}_{secret}"
    secret_registry.add(token)
    await AccessTokenRepository(session).add(
        AccessToken(id=token_id, label=label, secret_hash=_digest(secret), created_at=datetime.now(UTC))
    )
    return IssuedToken(id=token_id, label=label, token=token)


async def revoke(session: AsyncSession, token_id: str) -> None:
    if not await AccessTokenRepository(session).revoke(token_id, datetime.now(UTC)):
        raise NotFound("No active token with that id.")


async def authenticate(session: AsyncSession, presented: str) -> AccessToken:
    match = TOKEN_PATTERN.fullmatch(presented)
    repository = AccessTokenRepository(session)
    row = await repository.get(match["id"]) if match else None
    # Compare even when there is no row, against a dummy digest, so a miss costs what a hit costs.
    expected = row.secret_hash if row is not None else _DUMMY_DIGEST
    supplied = _digest(match["secret"]) if match else _DUMMY_DIGEST_MISMATCH
    if not hmac.compare_digest(expected, supplied) or row is None or row.revoked_at is not None:
        raise Unauthorized()
    now = datetime.now(UTC)
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await repository.touch(row.id, now)
    return row


async def confirm_active(session: AsyncSession, token_id: str) -> None:
    """For a write that follows a slow outside call: refuse (401) when the token was revoked meanwhile. The row
    is read FOR SHARE, so a revocation either committed before this or waits for this short transaction."""
    row = await AccessTokenRepository(session).get_for_share(token_id)
    if row is None or row.revoked_at is not None:
        raise Unauthorized()


_DUMMY_DIGEST = _digest("x" * 43)
_DUMMY_DIGEST_MISMATCH = _digest("y" * 43)
