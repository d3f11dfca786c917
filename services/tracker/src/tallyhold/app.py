"""The instance's ASGI application: `create_app(settings)` builds it; the lifespan owns engine and workers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from tallyhold import __version__
from tallyhold.api.handlers import install_error_handlers
from tallyhold.api.middleware import AccessLog, BodySizeLimit, SecurityHeaders
from tallyhold.api.openapi import install_openapi
from tallyhold.api.state import InstanceState
from tallyhold.chains.endpoints import chains_router, wallet_router
from tallyhold.connections.endpoints import router as connections_router
from tallyhold.credentials import runtime as credentials_runtime
from tallyhold.db import create_engine, create_session_maker
from tallyhold.egress.client import EgressClient
from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.exchanges.verifier import ExchangeCredentialVerifier
from tallyhold.health.endpoints import database_check
from tallyhold.health.endpoints import router as health_router
from tallyhold.memory import release_free_heap
from tallyhold.metrics import INSTANCE_INFO
from tallyhold.portfolio.endpoints import router as portfolio_router
from tallyhold.runtime import egress_config
from tallyhold.security.endpoints import router as security_router
from tallyhold.settings import Settings
from tallyhold.sync import endpoints as sync_endpoints
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.looplag import LoopLagProbe
from tallyhold.sync.scheduler import SyncScheduler
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
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        egress = EgressClient(
            egress_config(settings), mode=settings.egress.mode, idle_seconds=settings.egress.idle_seconds
        )
        state = InstanceState.for_engine(settings, engine, egress)
        state.readiness["database"] = database_check(state)
        # Exchange keys are proven read-only by the exchange itself, through the egress worker.
        state.services["verifier"] = ExchangeCredentialVerifier(egress, settings)
        stop_credentials = await credentials_runtime.install(state)
        # Background work (syncs, prices, retention) gets its own small pool: a bulkhead for API latency.
        background_db = create_engine(settings, process="scheduler", pool_size=settings.database.sync_pool_size)
        background_sessions = create_session_maker(background_db)
        # The worker's questions to the exchange budget shared per egress IP go to Postgres on the background pool.
        egress.budget = SharedBudget(background_sessions)
        sync_engine = SyncEngine(settings, background_sessions, egress, state.services)
        state.services[sync_endpoints.ENGINE] = sync_engine
        scheduler = SyncScheduler(settings, background_sessions, sync_engine) if settings.sync.scheduler else None
        if scheduler is not None:
            state.services[sync_endpoints.SCHEDULER] = scheduler
            scheduler.start()
        app.state.instance = state
        INSTANCE_INFO.labels(__version__).set(1)
        loop_lag = LoopLagProbe()
        loop_lag.start()
        # Everything built so far (modules, models, schemas, pools) lives as long as the process: keep it out of
        # the cyclic collector's full passes, which otherwise stall the event loop for ~100 ms now and then
        # (bench/bench_api.py, event-loop lag while syncs run).
        gc.freeze()
        release_free_heap()
        try:
            yield
        finally:
            await loop_lag.stop()
            if scheduler is not None:
                scheduler.shutdown()
            await sync_engine.aclose()
            await stop_credentials()
            await egress.aclose()
            await state.last_used.aclose()
            await background_db.dispose()
            await engine.dispose()

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
    app.include_router(health_router)
    app.include_router(wallet_router)  # before connections: /wallet must not be taken for an {id}
    app.include_router(connections_router)
    app.include_router(chains_router)
    app.include_router(portfolio_router)
    app.include_router(security_router)
    app.include_router(sync_endpoints.router)
    install_web(app)  # the customer's web pages at `/`
    app.add_middleware(BodySizeLimit, limit=settings.http.max_body_bytes, timeout=settings.http.body_timeout_seconds)
    app.add_middleware(AccessLog)
    return app
