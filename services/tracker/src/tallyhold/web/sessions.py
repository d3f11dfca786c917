"""Sessions of the web pages. Never commits: the route owns the transaction.

The cookie holds a random 256-bit id, signed with the instance's key (itsdangerous); the database keeps only the
id's SHA-256 with the access token it was opened with, its CSRF token and its expiry. Every request re-checks
the token itself, so a revoked (or expired) token ends its sessions at once, and sign-out deletes the row: a
copied cookie is worthless afterwards."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.auth import service as token_service
from tallyhold.logging import secrets as secret_registry
from tallyhold.models import AccessToken, WebSession
from tallyhold.web.repository import WebSessionRepository

# `__Host-`: the browser only keeps it when Secure, Path=/ and no Domain, so no sibling host can plant or widen it.
COOKIE = "__Host-tallyhold_session"
SIGN_IN_COOKIE = "__Host-tallyhold_sign_in"  # the sign-in form's CSRF token (there is no session yet)
_SALT = "tallyhold.web.session"


@dataclass(frozen=True)
class ActiveSession:
    token_id: str
    csrf_token: str
    id_hash: bytes


@dataclass(frozen=True)
class OpenedSession:
    cookie: str  # signed; goes into Set-Cookie only
    csrf_token: str
    token: AccessToken

    def __repr__(self) -> str:
        return f"OpenedSession(cookie='**********', csrf_token='**********', token_id={self.token.id!r})"


class CookieSigner:
    """Signs and checks cookie values with the process's own key. The key is made at start and never stored: a
    key kept in the customer's schema would be a secret in clear in the database (and in its backups). A restart
    therefore asks browsers to sign in again; the sessions themselves are server-side (only their ids' hashes
    are stored), so the signature is a second lock, not the only one."""

    def __init__(self, key: bytes) -> None:
        self._signer = Signer(key, salt=_SALT, digest_method=hashlib.sha256)

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode("ascii")

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None


def new_signer() -> CookieSigner:
    return CookieSigner(secrets.token_bytes(32))


def _hash(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode("ascii")).digest()


async def sign_in(
    session: AsyncSession, signer: CookieSigner, presented_token: str, previous_cookie: str | None, lifetime: timedelta
) -> OpenedSession:
    """Check the access token (401 `Unauthorized` when it is not a live token) and open a new session for it. A
    session the browser already had is ended first: the id always changes at sign-in (no session fixation)."""
    token = await token_service.authenticate(session, presented_token)
    # Registered only once it proved to be a live token: whatever a client sends before that is its own text,
    # and registering it would let anyone fill the registry (memory, and every log line's scan) and mask chosen
    # words in the log. A token-shaped value is masked in logs by its `th_` pattern either way.
    secret_registry.add(presented_token)
    repository = WebSessionRepository(session)
    now = datetime.now(UTC)
    previous = signer.unsign(previous_cookie)
    if previous is not None:
        await repository.delete(_hash(previous))
    await repository.delete_expired(now)
    session_id = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    secret_registry.add(session_id)
    await repository.add(
        WebSession(
            id_hash=_hash(session_id),
            token_id=token.id,
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return OpenedSession(cookie=signer.sign(session_id), csrf_token=csrf_token, token=token)


async def resolve(session: AsyncSession, signer: CookieSigner, cookie: str | None) -> ActiveSession | None:
    """The live session the cookie names, or None: no cookie, a bad signature, an unknown or expired session, or
    a token that is no longer valid (revoked or expired; `token_ended` then tells the caller to delete the
    token's sessions). A plain read: no lock, nothing written, so a page view costs one short query."""
    session_id = signer.unsign(cookie)
    if session_id is None:
        return None
    row = await WebSessionRepository(session).get_live(_hash(session_id), datetime.now(UTC))
    if row is None:
        return None
    web_session, token = row
    if not token_service.usable(token):
        raise TokenEnded(web_session.token_id)
    return ActiveSession(token_id=web_session.token_id, csrf_token=web_session.csrf_token, id_hash=web_session.id_hash)


class TokenEnded(Exception):
    """The session's access token was revoked or has expired: its sessions are over."""

    def __init__(self, token_id: str) -> None:
        super().__init__(token_id)
        self.token_id = token_id


async def end_sessions_of(session: AsyncSession, token_id: str) -> None:
    await WebSessionRepository(session).delete_for_token(token_id)


async def sign_out(session: AsyncSession, active: ActiveSession) -> None:
    await WebSessionRepository(session).delete(active.id_hash)
