"""Sign-in, sign-out, the dashboard and "Sync now". Thin routes: pages.py gathers, templates show."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tallyhold.api.dependencies import SessionDep, SessionMakerDep, SettingsDep
from tallyhold.auth.dependencies import LastUsedDep, ThrottleDep
from tallyhold.auth.throttle import client_key, retry_after_header
from tallyhold.db import transaction
from tallyhold.errors import Unauthorized
from tallyhold.portfolio.dependencies import AnswerCacheDep
from tallyhold.sync.dependencies import SyncControlDep
from tallyhold.web import pages, sessions
from tallyhold.web.dependencies import CheckedForm, CsrfRefused, PageSession, SignerDep, same_origin
from tallyhold.web.rendering import PAGE_HEADERS, json_script, render
from tallyhold.web.sessions import CookieSigner
from tallyhold.web.words import error_words

router = APIRouter(include_in_schema=False)
SIGN_IN_FORM_SECONDS = 3600


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict")


def _sign_in_page(signer: CookieSigner, *, error: str | None = None, status_code: int = 200) -> Response:
    form_token = secrets.token_urlsafe(32)
    response = render(
        "sign_in.html", {"csrf_token": form_token, "error": error, "title": "Sign in"}, status_code=status_code
    )
    set_cookie(response, sessions.SIGN_IN_COOKIE, signer.sign(form_token), SIGN_IN_FORM_SECONDS)
    return response


@router.get("/sign-in")
async def sign_in_page(signer: SignerDep) -> Response:
    return _sign_in_page(signer)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    signer: SignerDep,
    session_maker: SessionMakerDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    last_used: LastUsedDep,
) -> Response:
    form = await request.form()
    expected = signer.unsign(request.cookies.get(sessions.SIGN_IN_COOKIE))
    supplied = form.get("csrf_token")
    if expected is None or not isinstance(supplied, str) or not same_origin(request):
        raise CsrfRefused()
    if not hmac.compare_digest(expected.encode(), supplied.encode()):
        raise CsrfRefused()
    presented = form.get("token")
    try:
        async with transaction(session_maker) as session:
            opened = await sessions.sign_in(
                session,
                signer,
                presented if isinstance(presented, str) else "",
                request.cookies.get(sessions.COOKIE),
                timedelta(seconds=settings.auth.web_session_seconds),
            )
    except Unauthorized:
        # Throttled like the API's bearer tokens: the same table, so guesses here and there count together.
        wait = throttle.record_failure(client_key(request.client.host if request.client else None))
        if wait is not None:
            response = _sign_in_page(
                signer,
                error="Too many failed sign-ins from this address: wait a minute, then try again.",
                status_code=429,
            )
            response.headers["Retry-After"] = retry_after_header(wait)
            return response
        return _sign_in_page(
            signer, error="That access token is not valid: it may be mistyped, revoked or expired.", status_code=401
        )
    last_used.seen(opened.token)
    response = redirect("/")
    set_cookie(response, sessions.COOKIE, opened.cookie, settings.auth.web_session_seconds)
    response.delete_cookie(sessions.SIGN_IN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.post("/sign-out")
async def sign_out(active: PageSession, form: CheckedForm, session: SessionDep) -> Response:
    await sessions.sign_out(session, active)
    response = redirect("/sign-in")
    response.delete_cookie(sessions.COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/")
async def dashboard(
    active: PageSession,
    session: SessionDep,
    answers: AnswerCacheDep,
    settings: SettingsDep,
    sync_control: SyncControlDep,
    chart_range: Annotated[str, Query(alias="range")] = pages.DEFAULT_RANGE,
    sync: str | None = None,
) -> Response:
    if chart_range not in pages.RANGES:
        chart_range = pages.DEFAULT_RANGE
    shown = await pages.dashboard(session, answers, settings, sync_control, chart_range)
    return render(
        "dashboard.html",
        {
            "title": "Net worth",
            "nav": "dashboard",
            "csrf_token": active.csrf_token,
            "page": shown,
            "chart_data": json_script(shown.chart_json),
            "ranges": list(pages.RANGES),
            "sync_started": sync == "started",
            "error_words": error_words,
        },
    )


@router.post("/sync")
async def sync_now(active: PageSession, form: CheckedForm, sync: SyncControlDep) -> Response:
    sync.start_all()
    return redirect("/?sync=started")


@router.get("/sync/progress")
async def sync_progress(active: PageSession, session: SessionDep, sync: SyncControlDep) -> Response:
    """For the dashboard's progress display: how many sources are done while a sync of all runs."""
    status = await sync.status(session)
    busy = sum(1 for source in status.sources if source.state == "syncing")
    body = {"running": status.running, "sources": len(status.sources), "syncing": busy}
    return JSONResponse(body, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})
