from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.api.dependencies import runtime_of
from tallyhold.auth import service as token_service
from tallyhold.auth.last_used import LastUsedRecorder
from tallyhold.auth.lookup import TokenLookup
from tallyhold.auth.throttle import FailureThrottle, client_key, retry_after_header
from tallyhold.db import transaction
from tallyhold.errors import TooManyAuthFailures, Unauthorized
from tallyhold.models import AccessToken


class AuthParts(Protocol):
    @property
    def auth_throttle(self) -> FailureThrottle: ...

    @property
    def token_lookup(self) -> TokenLookup: ...

    @property
    def last_used(self) -> LastUsedRecorder: ...


async def get_throttle(request: Request) -> FailureThrottle:
    parts: AuthParts = runtime_of(request)
    return parts.auth_throttle


# Failed authentications per client address, shared by every route that checks a credential (API and pages).
ThrottleDep = Annotated[FailureThrottle, Depends(get_throttle)]


async def get_last_used(request: Request) -> LastUsedRecorder:
    parts: AuthParts = runtime_of(request)
    return parts.last_used


LastUsedDep = Annotated[LastUsedRecorder, Depends(get_last_used)]


_bearer = HTTPBearer(auto_error=False, description="An access token from `tallyhold token create`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def require_token(request: Request, credentials: BearerDep) -> AccessToken:
    """The request's token, read by one autocommit statement (auth/lookup.py) apart from the route's session:
    a route whose answer is cached opens no transaction at all. The row is detached (only read: `token.id`).
    The runtime's parts are read here rather than as sub-dependencies: each one FastAPI resolves costs every
    request of every route (bench/bench_api.py measures the CPU of one)."""
    parts: AuthParts = runtime_of(request)
    lookup, throttle, last_used = parts.token_lookup, parts.auth_throttle, parts.last_used
    # No bearer credential at all is not a guess: 401 without counting. A presented token is always checked,
    # even from a throttled address, so a valid one keeps working there (auth/throttle.py says why).
    if credentials is None:
        raise Unauthorized()
    try:
        token = await token_service.authenticate_with(lookup.get, credentials.credentials)
    except Unauthorized:
        client = client_key(request.client.host if request.client else None)
        wait = throttle.record_failure(client)
        if wait is None:
            raise
        raise TooManyAuthFailures(retry_after_header(wait)) from None
    last_used.seen(token)
    return token


CurrentToken = Annotated[AccessToken, Depends(require_token)]


@asynccontextmanager
async def write_transaction(
    sessions: async_sessionmaker[AsyncSession], token: AccessToken
) -> AsyncIterator[AsyncSession]:
    """The one write transaction (commit on success, roll back on error) of a route that waits on the network
    before it writes, and so takes no `SessionDep` (which would hold a transaction for the whole request). Opened
    after the slow outside call; the token is confirmed still active in it first, so a revocation during that
    call is honoured (401, nothing written)."""
    async with transaction(sessions) as session:
        await token_service.confirm_active(session, token.id)
        yield session
