"""Wallet and custom-token rules. Never commits: the request that calls it owns the transaction.

Errors (all before anything is written):
    422 secret_material       (guard.py, checked before everything else by the routes)
    400 unsupported_chain     not one of the catalogue's chains
    422 invalid_address       malformed, bad checksum, wrong network, unsupported key type
    422 chain_not_configured  the instance has no RPC / Esplora URL for that chain
    409 wallet_exists         this address (or xpub) is already a wallet on that chain
    422 invalid_token         no contract there, or its symbol/decimals/balanceOf are unusable
    409 token_exists          already tracked (curated or custom)
    409 token_symbol_conflict its symbol would pass it off as a tracked asset (USDT, ETH, …) or another token
    502/504 chain_unavailable the chain could not be asked; 502 chain_mismatch: the RPC serves another chain
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold import limits
from tallyhold.audit.repository import AuditRepository
from tallyhold.chains.addresses import (
    InvalidAddress,
    looks_like_extended_key,
    normalise_bitcoin_address,
    normalise_evm_address,
    parse_extended_public_key,
)
from tallyhold.chains.catalog import CHAINS, ChainSpec
from tallyhold.chains.repository import CustomTokenRepository, WalletRepository
from tallyhold.chains.schemas import ChainList, ChainOut, TokenCreate, TokenList, TokenOut, WalletCreate
from tallyhold.chains.tokenlist import curated_by_contract, curated_tokens, reserved_codes
from tallyhold.chains.wire import TokenInfoReply, TokenInfoRequest
from tallyhold.connections import service as connection_service
from tallyhold.connections.repository import ConnectionRepository
from tallyhold.connections.schemas import ConnectionOut
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.errors import BadRequest, Conflict, NotFound, Unprocessable, UpstreamError
from tallyhold.models import Connection, CustomToken
from tallyhold.settings import Settings

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,23}$")
MAX_TOKEN_DECIMALS = 36


class UnsupportedChain(BadRequest):
    default_code = "unsupported_chain"
    default_message = "Supported chains: ethereum, arbitrum, optimism, base, polygon, bsc, bitcoin."


class ChainNotConfigured(Unprocessable):
    default_code = "chain_not_configured"


class InvalidToken(Unprocessable):
    default_code = "invalid_token"


class ChainUnavailable(UpstreamError):
    default_code = "chain_unavailable"
    default_message = "The chain could not be asked right now; try again shortly."


class ChainTimeout(ChainUnavailable):
    status_code = 504


def chain_spec(name: str) -> ChainSpec:
    spec = CHAINS.get(name.strip().lower())
    if spec is None:
        raise UnsupportedChain()
    return spec


def is_configured(spec: ChainSpec, settings: Settings) -> bool:
    if spec.kind == "bitcoin":
        return settings.chains.esplora_url is not None
    return spec.name in settings.chains.evm_rpc.configured()


def _require_configured(spec: ChainSpec, settings: Settings) -> None:
    if not is_configured(spec, settings):
        setting = "TALLYHOLD_ESPLORA_URL" if spec.kind == "bitcoin" else f"TALLYHOLD_EVM_RPC_{spec.name.upper()}"
        raise ChainNotConfigured(f"This instance cannot read {spec.display} yet: its operator has not set {setting}.")


# -- wallets ----------------------------------------------------------------------------------------------------


def normalise_target(spec: ChainSpec, address: str | None, xpub: str | None) -> str:
    """The stored form of what the customer gave: an EIP-55 address, a Bitcoin address, or an xpub."""
    if (address is None) == (xpub is None):
        raise InvalidAddress("Give either an address or (Bitcoin only) an xpub.")
    if spec.kind == "evm":
        if xpub is not None:
            raise InvalidAddress("Extended public keys are supported for Bitcoin only; give the wallet's address.")
        assert address is not None
        return normalise_evm_address(address)
    value = xpub if xpub is not None else address
    assert value is not None
    if xpub is not None or looks_like_extended_key(value):
        return parse_extended_public_key(value).value
    return normalise_bitcoin_address(value).value


async def create_wallet(session: AsyncSession, body: WalletCreate, *, settings: Settings, actor: str) -> ConnectionOut:
    spec = chain_spec(body.chain)
    target = normalise_target(spec, body.address, body.xpub)
    _require_configured(spec, settings)
    if await WalletRepository(session).find(spec.name, target) is not None:
        raise Conflict(f"This wallet is already tracked on {spec.display}.", code="wallet_exists")
    try:
        async with session.begin_nested():  # a concurrent twin trips the unique index: same answer, no 500
            connection = await ConnectionRepository(session).add(
                Connection(kind="wallet", label=body.label or f"{spec.display} wallet", chain=spec.name, address=target)
            )
    except IntegrityError:
        raise Conflict(f"This wallet is already tracked on {spec.display}.", code="wallet_exists") from None
    await AuditRepository(session).record(
        "connection.created", actor=actor, connection_id=connection.id, kind="wallet", chain=spec.name
    )
    return connection_service.present(connection)


# -- chains and tokens ------------------------------------------------------------------------------------------


def list_chains(settings: Settings) -> ChainList:
    return ChainList(
        items=[
            ChainOut(
                name=spec.name,
                display=spec.display,
                kind=spec.kind,
                chain_id=spec.chain_id,
                native_asset=spec.native_asset,
                configured=is_configured(spec, settings),
                curated_tokens=len(curated_tokens(spec.name)),
            )
            for spec in CHAINS.values()
        ]
    )


async def list_tokens(session: AsyncSession, chain: str | None) -> TokenList:
    specs = [chain_spec(chain)] if chain else [s for s in CHAINS.values() if s.kind == "evm"]
    items: list[TokenOut] = []
    for spec in specs:
        items.extend(
            TokenOut(
                id=None,
                chain=spec.name,
                contract=t.contract,
                symbol=t.symbol,
                decimals=t.decimals,
                asset=t.asset,
                source="curated",
            )
            for t in curated_tokens(spec.name)
        )
        items.extend(_present(t) for t in await CustomTokenRepository(session).for_chain(spec.name))
    return TokenList(items=items)


async def add_token(
    session: AsyncSession, body: TokenCreate, *, settings: Settings, egress: EgressClient, actor: str
) -> TokenOut:
    spec = chain_spec(body.chain)
    if spec.kind != "evm":
        raise Unprocessable("Custom tokens are ERC-20 contracts on an EVM chain.", code="invalid_token")
    contract = normalise_evm_address(body.contract)
    if contract.lower() in curated_by_contract(spec.name):
        raise Conflict(f"This token is already tracked on {spec.display} (curated list).", code="token_exists")
    repository = CustomTokenRepository(session)
    if await repository.find(spec.name, contract=contract) is not None:
        raise Conflict(f"This token is already tracked on {spec.display}.", code="token_exists")
    limits.ensure_room("custom_tokens", await repository.count_locked(), settings.limits.max_custom_tokens)
    _require_configured(spec, settings)
    info = await _token_info(egress, spec, contract)
    symbol, decimals = validate_token_info(info)
    asset = symbol.upper()
    if asset in reserved_codes(spec.name) or await repository.find(spec.name, asset=asset) is not None:
        raise Conflict(
            f"This contract calls itself {asset}, the code of an asset already tracked on {spec.display}. Tokens "
            "that copy a known symbol are a common scam; it was not added.",
            code="token_symbol_conflict",
        )
    name = info.name.strip()[:100] if info.name and info.name.isprintable() else None
    token = await repository.add(
        CustomToken(chain=spec.name, contract=contract, symbol=symbol, name=name, asset=asset, decimals=decimals)
    )
    await AuditRepository(session).record("token.added", actor=actor, chain=spec.name, token_id=str(token.id))
    return _present(token)


async def remove_token(session: AsyncSession, token_id: uuid.UUID, *, actor: str) -> None:
    token = await CustomTokenRepository(session).remove(token_id)
    if token is None:
        raise NotFound("No such custom token.")
    await AuditRepository(session).record("token.removed", actor=actor, chain=token.chain, token_id=str(token_id))


def validate_token_info(info: TokenInfoReply) -> tuple[str, int]:
    if not info.has_code:
        raise InvalidToken("There is no contract at this address on this chain (check the chain and the address).")
    if info.decimals is None or info.decimals > MAX_TOKEN_DECIMALS:
        raise InvalidToken("This contract does not report usable ERC-20 decimals.")
    symbol = (info.symbol or "").strip()
    if not _SYMBOL.fullmatch(symbol):
        raise InvalidToken(
            "This contract's symbol is missing or unusable (1-24 letters, digits, '.', '_' or '-'): it is not added."
        )
    if not info.balance_of:
        raise InvalidToken("This contract does not answer the ERC-20 balanceOf call.")
    return symbol, info.decimals


async def _token_info(egress: EgressClient, spec: ChainSpec, contract: str) -> TokenInfoReply:
    try:
        return await egress.call(
            "chain.token_info", TokenInfoRequest(chain=spec.name, contract=contract), TokenInfoReply
        )
    except EgressError as exc:
        if exc.code == "chain_mismatch":
            raise UpstreamError(
                f"The RPC configured for {spec.display} serves another chain; the operator must fix "
                f"TALLYHOLD_EVM_RPC_{spec.name.upper()}.",
                code="chain_mismatch",
            ) from None
        if exc.code in {"timeout", "egress_timeout"}:
            raise ChainTimeout() from None
        raise ChainUnavailable() from None


def _present(token: CustomToken) -> TokenOut:
    return TokenOut(
        id=token.id,
        chain=token.chain,
        contract=token.contract,
        symbol=token.symbol,
        name=token.name,
        decimals=token.decimals,
        asset=token.asset,
        source="custom",
        created_at=token.created_at,
    )
