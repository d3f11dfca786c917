"""Access tokens for an instance, issued through the instance's own token service over its own database role
(so the provisioner never needs more than the app role to do it)."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tallyhold.auth import service as token_service
from tallyhold.db import create_session_maker, schema_connect_args, transaction
from tallyhold_provision.naming import TenantNames


def issue_token(app_url: str, names: TenantNames, label: str) -> str:
    async def run() -> str:
        engine = create_async_engine(
            make_url(app_url).set(drivername="postgresql+psycopg"),
            poolclass=NullPool,
            connect_args=schema_connect_args(names.schema, f"{names.customer_id}.provisioner"),
        )
        try:
            async with transaction(create_session_maker(engine)) as session:
                issued = await token_service.issue(session, label[:100] or "provisioner")
        finally:
            await engine.dispose()
        return issued.token

    return asyncio.run(run())
