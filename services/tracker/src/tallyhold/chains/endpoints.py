"""Wallet and token routes. Every route that takes a body runs the secret-paste guard on the raw JSON first
(`GuardedBody`): before validation, storage or anything that could log, whatever field the secret is in."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from tallyhold.api.dependencies import SessionDep, SettingsDep, StateDep
from tallyhold.api.routing import DecimalJSONRoute
from tallyhold.auth.dependencies import CurrentToken
from tallyhold.chains import service
from tallyhold.chains.schemas import ChainList, TokenCreate, TokenList, TokenOut, WalletCreate
from tallyhold.connections.schemas import ConnectionOut
from tallyhold.errors import error_responses
from tallyhold.security.guard import GuardedBody

wallet_router = APIRouter(
    prefix="/v1/connections", tags=["connections"], route_class=DecimalJSONRoute, responses=error_responses(401)
)
chains_router = APIRouter(prefix="/v1", tags=["chains"], route_class=DecimalJSONRoute, responses=error_responses(401))


@wallet_router.post("/wallet", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409, 413, 422))
async def create_wallet_connection(
    token: CurrentToken, _guard: GuardedBody, body: WalletCreate, session: SessionDep, settings: SettingsDep
) -> ConnectionOut:
    """Track a wallet by public address (EVM, Bitcoin) or extended public key (Bitcoin xpub/ypub/zpub). The same
    address on several EVM chains is one wallet per chain. Anything that looks like a private key, WIF, xprv or
    recovery phrase is refused with 422 `secret_material` and never stored or logged."""
    return await service.create_wallet(session, body, settings=settings, actor=f"token:{token.id}")


@chains_router.get("/chains")
async def list_chains(settings: SettingsDep, token: CurrentToken) -> ChainList:
    """The supported chains, and whether this instance is configured to read each."""
    return service.list_chains(settings)


@chains_router.get("/tokens", responses=error_responses(400))
async def list_tokens(
    session: SessionDep,
    token: CurrentToken,
    chain: Annotated[str | None, Query(max_length=32, description="One chain; all EVM chains by default.")] = None,
) -> TokenList:
    """The ERC-20 tokens read on every wallet: the curated list shipped with Tallyhold, plus custom tokens."""
    return await service.list_tokens(session, chain)


@chains_router.post(
    "/tokens", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 409, 413, 422, 502, 504)
)
async def add_token(
    token: CurrentToken,
    _guard: GuardedBody,
    body: TokenCreate,
    session: SessionDep,
    settings: SettingsDep,
    state: StateDep,
) -> TokenOut:
    """Track a custom ERC-20 by contract address on one chain; its symbol and decimals are read from the contract
    and checked. A symbol that copies a tracked asset (USDT, ETH, …) is refused."""
    return await service.add_token(session, body, settings=settings, egress=state.egress, actor=f"token:{token.id}")


@chains_router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def remove_token(token_id: uuid.UUID, session: SessionDep, token: CurrentToken) -> Response:
    """Stop tracking a custom token; its balances go with it."""
    await service.remove_token(session, token_id, actor=f"token:{token.id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
