from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tallyhold.api.dependencies import SessionDep
from tallyhold.auth import service as token_service
from tallyhold.errors import Unauthorized
from tallyhold.models import AccessToken

_bearer = HTTPBearer(auto_error=False, description="An access token from `tallyhold token create`.")


async def require_token(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AccessToken:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return await token_service.authenticate(session, credentials.credentials)


CurrentToken = Annotated[AccessToken, Depends(require_token)]
