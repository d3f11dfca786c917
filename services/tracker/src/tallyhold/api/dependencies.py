"""Typed dependency aliases used by every route (`SessionDep`, `SettingsDep`, `StateDep`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.api.state import InstanceState
from tallyhold.settings import Settings


# `async def` although nothing is awaited: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop per dependency per request that cost more than the rest of a cheap route (bench/bench_api.py).
async def get_state(request: Request) -> InstanceState:
    return cast(InstanceState, request.app.state.instance)


StateDep = Annotated[InstanceState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, and its only transaction owner: commit when the route returns, roll back
    when it raises. `scope="function"` makes the commit happen before the response is sent, so a client never
    sees success for a write that then fails to commit."""
    async with state.session_maker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
