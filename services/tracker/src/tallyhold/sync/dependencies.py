"""The sync part of the runtime, as a typed route dependency (`SyncControlDep`)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from tallyhold.api.dependencies import runtime_of
from tallyhold.sync.control import SyncControl


class SyncParts(Protocol):
    @property
    def sync(self) -> SyncControl: ...


async def get_sync_control(request: Request) -> SyncControl:
    parts: SyncParts = runtime_of(request)
    return parts.sync


SyncControlDep = Annotated[SyncControl, Depends(get_sync_control)]
