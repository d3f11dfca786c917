"""The instance's ASGI application: `create_app(settings)` builds it; the lifespan owns engine and workers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from tallyhold import __version__
from tallyhold.api.docstrings import restore_route_descriptions
from tallyhold.api.error_handlers import install_error_handlers
from tallyhold.api.middleware import AccessLog, BodySizeLimit, SecurityHeaders
from tallyhold.api.openapi import install_openapi
from tallyhold.chains.endpoints import chains_router, wallet_router
from tallyhold.connections.endpoints import router as connections_router
from tallyhold.foreground import CountInFlight, Foreground
from tallyhold.health.endpoints import router as health_router
from tallyhold.memory import release_free_heap
from tallyhold.metrics import INSTANCE_INFO
from tallyhold.portfolio.endpoints import router as portfolio_router
from tallyhold.runtime import open_runtime, served
from tallyhold.security.endpoints import router as security_router
from tallyhold.settings import Settings
from tallyhold.sync import endpoints as sync_endpoints
from tallyhold.sync.looplag import LoopLagProbe
from tallyhold.web.install import install_web

DESCRIPTION = """\
One customer's Tallyhold instance. Every `/v1` route needs `Authorization: Bearer <token>` (tokens come from
`tallyhold token create` and are shown once). Amounts and values are decimal strings, never floats. Errors
have the body `{"error": {"code": "<stable_snake_case>", "message": "..."}}`, which never repeats the request
body or any secret. Exchange keys must be read-only: keys that can trade, withdraw or transfer are refused.

The customer's web pages are served at `/` (not described here): `GET /` without a session redirects (303) to
`/sign-in`, a form with one password field for an access token; the session cookie is HttpOnly, Secure and
SameSite=Strict, every HTML answer carries a Content-Security-Policy, and no page loads anything from another
origin.
"""


class InstanceApp(FastAPI):
    """FastAPI with `SecurityHeaders` outside Starlette's `ServerErrorMiddleware`, which user middleware cannot
    wrap: a 500 answer carries the security headers too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(settings: Settings) -> FastAPI:
    foreground = Foreground()  # requests in flight, which the background work lets go first (foreground.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, serving=True, foreground=foreground) as runtime:
            # Read by the routes' typed dependencies (`SessionDep`, `SyncControlDep`, ...; see tallyhold/runtime.py).
            app.state.runtime = served(runtime)
            INSTANCE_INFO.labels(__version__).set(1)
            loop_lag = LoopLagProbe()
            loop_lag.start()
            # Everything built so far (modules, models, schemas, pools) lives as long as the process: keep it out
            # of the cyclic collector's full passes, which otherwise stall the event loop for ~100 ms now and then
            # (bench/bench_api.py, event-loop lag while syncs run).
            gc.freeze()
            release_free_heap()
            try:
                yield
            finally:
                await loop_lag.stop()

    app = InstanceApp(
        title="Tallyhold instance API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # no third-party assets served from the instance
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app)
    # wallet before connections: /wallet must not be taken for an {id}
    routers = (
        health_router,
        wallet_router,
        connections_router,
        chains_router,
        portfolio_router,
        security_router,
        sync_endpoints.router,
    )
    restore_route_descriptions(routers)  # under `python -OO`, the OpenAPI document's descriptions (api/docstrings.py)
    for router in routers:
        app.include_router(router)
    install_web(app)  # the customer's web pages at `/`
    app.add_middleware(BodySizeLimit, limit=settings.http.max_body_bytes, timeout=settings.http.body_timeout_seconds)
    app.add_middleware(AccessLog)
    app.add_middleware(CountInFlight, foreground=foreground)
    return app
