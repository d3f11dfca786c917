"""Mounts the web pages on the instance's app: the routes, the static files, and the answers to a missing
session (303 to the sign-in page) and a refused CSRF token (403, nothing done)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from tallyhold.web import connection_endpoints, endpoints
from tallyhold.web.dependencies import CsrfRefused, SignInRequired
from tallyhold.web.endpoints import redirect
from tallyhold.web.rendering import STATIC_DIR, render


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    return redirect("/sign-in")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return render("refused.html", {"title": "Refused"}, status_code=403)


def install_web(app: FastAPI) -> None:
    app.include_router(endpoints.router)
    app.include_router(connection_endpoints.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
