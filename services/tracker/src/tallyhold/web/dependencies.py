"""What a page route needs: the signed-in session (or a redirect to the sign-in page), and forms whose CSRF token
was checked."""

from __future__ import annotations

import hmac
from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.datastructures import FormData

from tallyhold.api.dependencies import SessionDep, SessionMakerDep, runtime_of
from tallyhold.db import transaction
from tallyhold.web import sessions
from tallyhold.web.sessions import ActiveSession, CookieSigner


class WebParts(Protocol):
    @property
    def cookie_signer(self) -> CookieSigner: ...


async def get_cookie_signer(request: Request) -> CookieSigner:
    parts: WebParts = runtime_of(request)
    return parts.cookie_signer


# Signs the pages' cookies with a key the process made at start and never stores.
SignerDep = Annotated[CookieSigner, Depends(get_cookie_signer)]


class SignInRequired(Exception):
    """No live session: the answer is a redirect to the sign-in page."""


class CsrfRefused(Exception):
    """A state-changing form without its session's CSRF token (or from another origin): 403, nothing done."""


async def page_session(
    request: Request, session: SessionDep, session_maker: SessionMakerDep, signer: SignerDep
) -> ActiveSession:
    """The request's live session, read in the request's own transaction. When its token has been revoked or
    has expired, the token's sessions are deleted in a transaction of their own (committed, although this
    request then fails) and the answer is the sign-in page."""
    try:
        active = await sessions.resolve(session, signer, request.cookies.get(sessions.COOKIE))
    except sessions.TokenEnded as ended:
        async with transaction(session_maker) as cleanup:
            await sessions.end_sessions_of(cleanup, ended.token_id)
        raise SignInRequired() from None
    if active is None:
        raise SignInRequired()
    return active


PageSession = Annotated[ActiveSession, Depends(page_session)]


def same_origin(request: Request) -> bool:
    """A browser names the page a form came from in `Origin`; it must be this instance (absent is allowed: the
    token check below still applies)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in {f"http://{host}", f"https://{host}"}


async def checked_form(request: Request, active: PageSession) -> FormData:
    form = await request.form()
    supplied = form.get("csrf_token")
    if not isinstance(supplied, str) or not same_origin(request):
        raise CsrfRefused()
    if not hmac.compare_digest(supplied.encode(), active.csrf_token.encode()):
        raise CsrfRefused()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]
