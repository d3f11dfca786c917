from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.api.dependencies import SessionDep, StateDep
from tallyhold.api.state import InstanceState
from tallyhold.auth import service as token_service
from tallyhold.auth.throttle import client_key, retry_after_header
from tallyhold.db import transaction
from tallyhold.errors import TooManyAuthFailures, Unauthorized
from tallyhold.models import AccessToken

_bearer = HTTPBearer(auto_error=False, description="An access token from `tallyhold token create`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def require_token(request: Request, state: StateDep, session: SessionDep, credentials: BearerDep) -> AccessToken:
    return await _authenticate(request, state, session, credentials)


CurrentToken = Annotated[AccessToken, Depends(require_token)]


async def require_token_committed(request: Request, state: StateDep, credentials: BearerDep) -> AccessToken:
    """The same check as `CurrentToken`, in a transaction of its own that has committed (and returned its
    connection to the pool) before the route runs: for routes that wait on the network before they write."""
    async with transaction(state.session_maker) as session:
        return await _authenticate(request, state, session, credentials)


async def _authenticate(
    request: Request, state: InstanceState, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> AccessToken:
    # No bearer credential at all is not a guess: 401 without counting. A presented token is always checked,
    # even from a throttled address, so a valid one keeps working there (auth/throttle.py says why).
    if credentials is None:
        raise Unauthorized()
    try:
        token = await token_service.authenticate(session, credentials.credentials)
    except Unauthorized:
        client = client_key(request.client.host if request.client else None)
        wait = state.auth_throttle.record_failure(client)
        if wait is None:
            raise
        raise TooManyAuthFailures(retry_after_header(wait)) from None
    state.last_used.seen(token)
    return token


# Routes using it must not also take `SessionDep`, which would hold a transaction for the whole request.
CommittedToken = Annotated[AccessToken, Depends(require_token_committed)]


@asynccontextmanager
async def write_transaction(state: InstanceState, token: AccessToken) -> AsyncIterator[AsyncSession]:
    """A `CommittedToken` route's one write transaction (commit on success, roll back on error), opened after
    its slow outside call; the token is confirmed still active in it first, so a revocation during that call
    is honoured (401, nothing written)."""
    async with transaction(state.session_maker) as session:
        await token_service.confirm_active(session, token.id)
        yield session
