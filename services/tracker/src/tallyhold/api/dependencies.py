"""Typed dependencies every route may use (`SessionDep`, `SessionMakerDep`, `SettingsDep`, `EgressDep`), and
`runtime_of`, through which each domain's own dependencies read the part of the runtime they need.

The runtime (`tallyhold.runtime.Runtime`, set on the app by its lifespan) is built from the domains, which import
this module: neither may import the other. So each reader declares what it reads as a Protocol (`CoreParts`
here, `SyncParts` in sync/dependencies.py, ...) and `tallyhold.runtime.Served` proves that the runtime has all
of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold.egress.client import EgressClient
from tallyhold.settings import Settings


class CoreParts(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def session_maker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def egress(self) -> EgressClient: ...


def runtime_of(request: Request) -> Any:
    """The process's runtime, to be read through the caller's Protocol."""
    return request.app.state.runtime


# `async def` although nothing is awaited: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop per dependency per request that cost more than the rest of a cheap route (bench/bench_api.py).
async def get_settings(request: Request) -> Settings:
    parts: CoreParts = runtime_of(request)
    return parts.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session_maker(request: Request) -> async_sessionmaker[AsyncSession]:
    parts: CoreParts = runtime_of(request)
    return parts.session_maker


# For routes that open their own transactions (a route that waits on the network before it writes).
SessionMakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_session_maker)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, and its only transaction owner: commit when the route returns, roll back
    when it raises. `scope="function"` makes the commit happen before the response is sent, so a client never
    sees success for a write that then fails to commit."""
    parts: CoreParts = runtime_of(request)
    async with parts.session_maker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_egress(request: Request) -> EgressClient:
    parts: CoreParts = runtime_of(request)
    return parts.egress


EgressDep = Annotated[EgressClient, Depends(get_egress)]
