"""Mounts the web pages on the instance's app: the routes, the static files, and the answers to a missing
session (303 to the sign-in page) and a refused CSRF token (403, nothing done)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from tallyhold.errors import TallyholdError
from tallyhold.web import connection_endpoints, endpoints
from tallyhold.web.dependencies import CsrfRefused, SignInRequired
from tallyhold.web.endpoints import redirect
from tallyhold.web.rendering import STATIC_DIR, render

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]
ApiHandler = Callable[[Request, Any], Response | Awaitable[Response]]


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    return redirect("/sign-in")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return render("refused.html", {"title": "Refused"}, status_code=403)


_NOT_PAGES = ("/v1", "/healthz", "/readyz", "/openapi.json", "/static")
_STATUS_WORDS = {404: "Not found", 422: "Not valid"}


def _html_for_pages(api_handler: ApiHandler) -> ExceptionHandler:
    """Errors of the pages (an unknown connection, a malformed id in the address) as a page; the API's answers
    stay JSON, from the API's own handler."""

    async def handle(request: Request, exc: Exception) -> Response:
        answered = api_handler(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        if request.url.path.startswith(_NOT_PAGES):
            return response
        title = _STATUS_WORDS.get(response.status_code, "Something went wrong")
        return render("error.html", {"title": title}, status_code=response.status_code)

    return handle


def install_web(app: FastAPI) -> None:
    """Call after the API's error handlers are installed: page errors wrap them."""
    app.include_router(endpoints.router)
    app.include_router(connection_endpoints.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    for error in (TallyholdError, RequestValidationError):
        app.add_exception_handler(error, _html_for_pages(app.exception_handlers[error]))
