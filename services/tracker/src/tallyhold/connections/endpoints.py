from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from tallyhold.api.dependencies import SessionDep, SessionMakerDep, SettingsDep
from tallyhold.api.routing import DecimalJSONRoute
from tallyhold.auth.dependencies import CurrentToken, write_transaction
from tallyhold.connections import exchange as exchange_service
from tallyhold.connections import service as connection_service
from tallyhold.connections.dependencies import VerifierDep
from tallyhold.connections.schemas import (
    ConnectionList,
    ConnectionOut,
    ConnectionUpdate,
    CredentialsReplace,
    ExchangeConnectionCreate,
    ManualConnectionCreate,
)
from tallyhold.credentials.dependencies import CipherDep
from tallyhold.db import transaction
from tallyhold.errors import ErrorBody, error_responses
from tallyhold.security.guard import GuardedBody
from tallyhold.sync.dependencies import SyncControlDep

router = APIRouter(
    prefix="/v1/connections", tags=["connections"], route_class=DecimalJSONRoute, responses=error_responses(401)
)


# The key check's own 503: its turn for the egress IP's budget is further off than a user is kept waiting.
KEY_CHECK_BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "`exchange_budget_busy`: the exchange's request budget for this server's address is queued "
        "further off than a key check waits; the exchange was not asked and nothing was stored. Try again after "
        "`Retry-After` seconds. Also `vault_unavailable` / `database_unavailable`.",
        "headers": {"Retry-After": {"description": "Seconds until the check's turn", "schema": {"type": "integer"}}},
    }
}


@router.post("/manual", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409, 413, 422))
async def create_manual_connection(
    token: CurrentToken,
    _guard: GuardedBody,
    body: ManualConnectionCreate,
    session: SessionDep,
    settings: SettingsDep,
) -> ConnectionOut:
    """Record a holding outside exchanges and chains (cash, stocks, metals, property)."""
    return await connection_service.create_manual(
        session,
        body,
        quote=settings.portfolio.quote_currency,
        limit=settings.limits.max_manual_connections,
        actor=f"token:{token.id}",
    )


@router.post(
    "/exchange",
    status_code=status.HTTP_201_CREATED,
    responses={**error_responses(400, 413, 422, 502, 504), **KEY_CHECK_BUSY},
)
async def create_exchange_connection(
    body: ExchangeConnectionCreate,
    token: CurrentToken,
    sessions: SessionMakerDep,
    settings: SettingsDep,
    cipher: CipherDep,
    verifier: VerifierDep,
) -> ConnectionOut:
    """Connect an exchange account with a read-only API key. The exchange itself must report the key as
    read-only (`write_permissions` lists what to switch off); the key is encrypted with this customer's own
    transit key before it is stored and is never returned: only `key_hint` (its last 4 characters) is shown.
    Nothing is stored unless the answer is 201."""
    # The exchange is asked with no transaction open; then one transaction stores (connections/exchange.py).
    verified = await exchange_service.verify(body.exchange, body, cipher=cipher, verifier=verifier)
    async with write_transaction(sessions, token) as session:
        return await exchange_service.store_new(
            session, body, verified, schema=settings.database.schema_name, actor=f"token:{token.id}"
        )


@router.put(
    "/{connection_id}/credentials", responses={**error_responses(400, 404, 413, 422, 502, 504), **KEY_CHECK_BUSY}
)
async def replace_exchange_credentials(
    connection_id: uuid.UUID,
    body: CredentialsReplace,
    token: CurrentToken,
    sessions: SessionMakerDep,
    settings: SettingsDep,
    cipher: CipherDep,
    verifier: VerifierDep,
    sync: SyncControlDep,
) -> ConnectionOut:
    """Replace an exchange connection's key (same checks as at creation); the old ciphertexts are overwritten.
    A sync still running with the old key stores nothing (`superseded`); the new key is synced soon, with the
    old key's errors, backoff and holds forgotten."""
    async with transaction(sessions) as session:
        exchange = await exchange_service.exchange_of(session, connection_id)
    verified = await exchange_service.verify(exchange, body, cipher=cipher, verifier=verifier)
    async with write_transaction(sessions, token) as session:
        replaced = await exchange_service.store_replacement(
            session, connection_id, verified, schema=settings.database.schema_name, actor=f"token:{token.id}"
        )
    sync.sync_soon(connection_id)  # committed: a sync that starts now reads the new key
    return replaced


# Large enough that a client which ignores pagination still gets every connection of a customer within the
# default caps in one answer, as before pagination existed.
PAGE_SIZE = 1000


@router.get("", responses=error_responses(400, 422))
async def list_connections(
    session: SessionDep,
    token: CurrentToken,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE, description="Items per page.")] = PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=256, description="`next_cursor` of the previous page; omitted: the first.")
    ] = None,
) -> ConnectionList:
    """Connections, oldest first, a page at a time (`next_cursor` non-null: there are more)."""
    return await connection_service.list_page(session, cursor, limit)


@router.get("/{connection_id}", responses=error_responses(404))
async def get_connection(connection_id: uuid.UUID, session: SessionDep, token: CurrentToken) -> ConnectionOut:
    return await connection_service.get(session, connection_id)


@router.patch("/{connection_id}", responses=error_responses(400, 404, 413, 422))
async def update_connection(
    token: CurrentToken,
    _guard: GuardedBody,
    connection_id: uuid.UUID,
    body: ConnectionUpdate,
    session: SessionDep,
    settings: SettingsDep,
) -> ConnectionOut:
    """Rename a connection; for manual connections, also change the amount or price. A label that looks like
    secret material (private key, WIF, xprv, recovery phrase) is refused with 422 `secret_material`."""
    return await connection_service.update(
        session, connection_id, body, quote=settings.portfolio.quote_currency, actor=f"token:{token.id}"
    )


@router.delete("/{connection_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def delete_connection(connection_id: uuid.UUID, session: SessionDep, token: CurrentToken) -> Response:
    """Delete a connection with its stored credentials (ciphertext) and balances."""
    await connection_service.delete(session, connection_id, actor=f"token:{token.id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
