"""Access tokens for an instance, issued, listed and revoked through the instance's own token service over its
own database role (so the provisioner never needs more than the app role to do it). Never a secret in a list."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from tallyhold.auth import service as token_service
from tallyhold.db import create_session_maker, schema_connect_args, transaction
from tallyhold_provision.naming import TenantNames

T = TypeVar("T")


def _in_transaction(app_url: str, names: TenantNames, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_async_engine(
            make_url(app_url).set(drivername="postgresql+psycopg"),
            poolclass=NullPool,
            connect_args=schema_connect_args(names.schema, f"{names.customer_id}.provisioner"),
        )
        try:
            async with transaction(create_session_maker(engine)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def issue_token(
    app_url: str, names: TenantNames, label: str, lifetime: timedelta, *, replace_label: bool = False
) -> token_service.IssuedToken:
    """A new token. With `replace_label`, every earlier unrevoked token with the same label is revoked in the same
    transaction (`make run`: the token shown last is the only one of its kind that works)."""
    label = label[:100] or "provisioner"

    async def work(session: AsyncSession) -> token_service.IssuedToken:
        issued = await token_service.issue(session, label, lifetime)
        if replace_label:
            await token_service.revoke_labelled(session, label, keep=issued.id)
        return issued

    return _in_transaction(app_url, names, work)


def list_tokens(app_url: str, names: TenantNames) -> list[token_service.TokenInfo]:
    return _in_transaction(app_url, names, token_service.list_tokens)


def revoke_token(app_url: str, names: TenantNames, token_id: str) -> None:
    """Raises tallyhold.errors.NotFound when no unrevoked token has this id."""

    async def work(session: AsyncSession) -> None:
        await token_service.revoke(session, token_id)

    _in_transaction(app_url, names, work)
