"""Sign-in, sign-out, the dashboard and "Sync now". Thin routes: pages.py gathers, templates show."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tallyhold.api.dependencies import SessionDep, StateDep
from tallyhold.auth.throttle import client_key, retry_after_header
from tallyhold.db import transaction
from tallyhold.errors import ServiceUnavailable, Unauthorized
from tallyhold.sync.endpoints import current_status, start_sync_all
from tallyhold.web import pages, sessions
from tallyhold.web.dependencies import CheckedForm, CsrfRefused, PageSession, same_origin, signer_of
from tallyhold.web.rendering import PAGE_HEADERS, json_script, render
from tallyhold.web.words import error_words

router = APIRouter(include_in_schema=False)
SIGN_IN_FORM_SECONDS = 3600


def redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303, headers={"Cache-Control": "no-store"})


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="strict")


async def _sign_in_page(state: StateDep, *, error: str | None = None, status_code: int = 200) -> Response:
    signer = await signer_of(state)
    form_token = secrets.token_urlsafe(32)
    response = render(
        "sign_in.html", {"csrf_token": form_token, "error": error, "title": "Sign in"}, status_code=status_code
    )
    set_cookie(response, sessions.SIGN_IN_COOKIE, signer.sign(form_token), SIGN_IN_FORM_SECONDS)
    return response


@router.get("/sign-in")
async def sign_in_page(state: StateDep) -> Response:
    return await _sign_in_page(state)


@router.post("/sign-in")
async def sign_in(request: Request, state: StateDep) -> Response:
    signer = await signer_of(state)
    form = await request.form()
    expected = signer.unsign(request.cookies.get(sessions.SIGN_IN_COOKIE))
    supplied = form.get("csrf_token")
    if expected is None or not isinstance(supplied, str) or not same_origin(request):
        raise CsrfRefused()
    if not hmac.compare_digest(expected.encode(), supplied.encode()):
        raise CsrfRefused()
    presented = form.get("token")
    try:
        async with transaction(state.session_maker) as session:
            opened = await sessions.sign_in(
                session,
                signer,
                presented if isinstance(presented, str) else "",
                request.cookies.get(sessions.COOKIE),
                timedelta(seconds=state.settings.auth.web_session_seconds),
            )
    except Unauthorized:
        # Throttled like the API's bearer tokens: the same table, so guesses here and there count together.
        wait = state.auth_throttle.record_failure(client_key(request.client.host if request.client else None))
        if wait is not None:
            response = await _sign_in_page(
                state,
                error="Too many failed sign-ins from this address: wait a minute, then try again.",
                status_code=429,
            )
            response.headers["Retry-After"] = retry_after_header(wait)
            return response
        return await _sign_in_page(
            state, error="That access token is not valid: it may be mistyped, revoked or expired.", status_code=401
        )
    state.last_used.seen(opened.token)
    response = redirect("/")
    set_cookie(response, sessions.COOKIE, opened.cookie, state.settings.auth.web_session_seconds)
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
    state: StateDep,
    chart_range: Annotated[str, Query(alias="range")] = pages.DEFAULT_RANGE,
    sync: str | None = None,
) -> Response:
    if chart_range not in pages.RANGES:
        chart_range = pages.DEFAULT_RANGE
    shown = await pages.dashboard(session, state, chart_range)
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
            "sync_unavailable": sync == "unavailable",
            "error_words": error_words,
        },
    )


@router.post("/sync")
async def sync_now(active: PageSession, form: CheckedForm, state: StateDep) -> Response:
    try:
        start_sync_all(state)
    except ServiceUnavailable:
        return redirect("/?sync=unavailable")
    return redirect("/?sync=started")


@router.get("/sync/progress")
async def sync_progress(active: PageSession, session: SessionDep, state: StateDep) -> Response:
    """For the dashboard's progress display: how many sources are done while a sync of all runs."""
    status = await current_status(session, state)
    busy = sum(1 for source in status.sources if source.state == "syncing")
    body = {"running": status.running, "sources": len(status.sources), "syncing": busy}
    return JSONResponse(body, headers={**PAGE_HEADERS, "Cache-Control": "no-store"})
