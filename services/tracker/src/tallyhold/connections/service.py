"""Connection rules. Never commits: the request (or job) that calls it owns the transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold import limits
from tallyhold.audit.repository import AuditRepository
from tallyhold.connections import pagination
from tallyhold.connections.repository import ConnectionRepository
from tallyhold.connections.schemas import (
    ConnectionKind,
    ConnectionList,
    ConnectionOut,
    ConnectionStatus,
    ConnectionUpdate,
    ManualConnectionCreate,
    ManualHolding,
)
from tallyhold.errors import NotFound, Unprocessable
from tallyhold.exchanges.verification import Permissions
from tallyhold.models import Balance, Connection


async def create_manual(
    session: AsyncSession, body: ManualConnectionCreate, *, quote: str, limit: int, actor: str
) -> ConnectionOut:
    repository = ConnectionRepository(session)
    limits.ensure_room("manual_connections", await repository.count_locked("manual"), limit)
    connection = await repository.add(
        Connection(
            kind="manual",
            label=body.label,
            manual_price=body.price,
            manual_price_quote=quote if body.price is not None else None,
        )
    )
    await repository.set_manual_holding(connection.id, body.asset, body.amount)
    await AuditRepository(session).record("connection.created", actor=actor, connection_id=connection.id, kind="manual")
    return await get(session, connection.id)


async def list_page(session: AsyncSession, cursor: str | None, limit: int) -> ConnectionList:
    """One page of connections in creation order; `next_cursor` is set when more follow."""
    repository = ConnectionRepository(session)
    rows = await repository.page(pagination.decode(cursor), limit + 1)
    connections, more = rows[:limit], len(rows) > limit
    holdings = await repository.manual_holdings([c.id for c in connections if c.kind == "manual"])
    last = connections[-1] if more else None
    return ConnectionList(
        items=[present(c, holdings.get(c.id)) for c in connections],
        next_cursor=pagination.encode(last.created_at, last.id) if last is not None else None,
    )


async def get(session: AsyncSession, connection_id: uuid.UUID) -> ConnectionOut:
    repository = ConnectionRepository(session)
    connection = await _existing(repository, connection_id)
    holdings = await repository.manual_holdings([connection.id]) if connection.kind == "manual" else {}
    return present(connection, holdings.get(connection.id))


async def update(
    session: AsyncSession, connection_id: uuid.UUID, body: ConnectionUpdate, *, quote: str, actor: str
) -> ConnectionOut:
    repository = ConnectionRepository(session)
    connection = await _existing(repository, connection_id, for_update=True)
    changed = body.model_fields_set
    if changed & {"amount", "price"} and connection.kind != "manual":
        raise Unprocessable(
            "Only manual connections have an amount or a price to change.", code="not_manual_connection"
        )
    if "label" in changed:
        if body.label is None:
            raise Unprocessable("A label cannot be removed.", code="invalid_label")
        connection.label = body.label
    if "price" in changed:
        connection.manual_price = body.price
        connection.manual_price_quote = quote if body.price is not None else None
    if "amount" in changed:
        if body.amount is None:
            raise Unprocessable("A manual holding needs an amount.", code="invalid_amount")
        holding = (await repository.manual_holdings([connection.id]))[connection.id]
        await repository.set_manual_holding(connection.id, holding.asset, body.amount)
    connection.updated_at = datetime.now(UTC)
    await session.flush()
    await AuditRepository(session).record(
        "connection.updated", actor=actor, connection_id=connection.id, fields=sorted(changed)
    )
    return await get(session, connection.id)


async def delete(session: AsyncSession, connection_id: uuid.UUID, *, actor: str) -> None:
    """Deletes the row, and with it (ON DELETE CASCADE) its balances, liabilities and snapshots; its ciphertexts
    go with the row."""
    if not await ConnectionRepository(session).delete(connection_id):
        raise NotFound("No such connection.")
    await AuditRepository(session).record("connection.deleted", actor=actor, connection_id=connection_id)


async def _existing(
    repository: ConnectionRepository, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    connection = await repository.get(connection_id, for_update=for_update)
    if connection is None:
        raise NotFound("No such connection.")
    return connection


def present(connection: Connection, manual: Balance | None = None) -> ConnectionOut:
    key_since = connection.key_created_at or (connection.created_at if connection.kind == "exchange" else None)
    return ConnectionOut(
        id=connection.id,
        kind=cast(ConnectionKind, connection.kind),  # the table's check constraint guarantees the literal
        label=connection.label,
        status=cast(ConnectionStatus, connection.status),
        exchange=connection.exchange,
        chain=connection.chain,
        address=connection.address,
        key_hint=connection.key_hint,
        permissions=Permissions.model_validate(connection.permissions) if connection.permissions else None,
        ip_restricted=connection.ip_restricted,
        key_expires_at=connection.key_expires_at,
        key_age_days=(datetime.now(UTC) - key_since).days if key_since else None,
        manual=ManualHolding(
            asset=manual.asset, amount=manual.amount, price=connection.manual_price, quote=connection.manual_price_quote
        )
        if manual
        else None,
        last_sync_at=connection.last_sync_at,
        last_error=connection.last_error,
        created_at=connection.created_at,
    )
