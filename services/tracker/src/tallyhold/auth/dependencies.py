from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.api.dependencies import SessionDep, StateDep
from tallyhold.api.state import InstanceState
from tallyhold.auth import service as token_service
from tallyhold.db import transaction
from tallyhold.errors import Unauthorized
from tallyhold.models import AccessToken

_bearer = HTTPBearer(auto_error=False, description="An access token from `tallyhold token create`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def require_token(session: SessionDep, credentials: BearerDep) -> AccessToken:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return await token_service.authenticate(session, credentials.credentials)


CurrentToken = Annotated[AccessToken, Depends(require_token)]


async def require_token_committed(state: StateDep, credentials: BearerDep) -> AccessToken:
    """The same check as `CurrentToken`, in a transaction of its own that has committed (and returned its
    connection to the pool) before the route runs: for routes that wait on the network before they write."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    async with transaction(state.session_maker) as session:
        return await token_service.authenticate(session, credentials.credentials)


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
