"""The chain operations of the egress worker (registered in egress/operations.py):

chain.balances     WalletBalancesRequest → SourceBalances    one wallet's balances (EVM or Bitcoin)
chain.head         HeadRequest → HeadReply                     chain id check + latest block of an RPC
chain.token_info   TokenInfoRequest → TokenInfoReply           code, symbol, name, decimals of a contract

Each kind's reader is imported when a request of that kind comes: a worker that reads only Bitcoin wallets never
imports web3 (about 0.2 s of CPU and 300 modules at each worker start), one that reads only EVM wallets no
bip_utils.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, localcontext

from tallyhold.chains.catalog import CHAINS, ONCHAIN, ChainSpec
from tallyhold.chains.options import ChainOptions
from tallyhold.chains.wire import HeadReply, HeadRequest, TokenInfoReply, TokenInfoRequest, WalletBalancesRequest
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.sources.models import FetchedBalance, SourceBalances
from tallyhold.types import MONEY_PRECISION


async def balances(request: WalletBalancesRequest, config: EgressConfig) -> SourceBalances:
    spec = _spec(request.chain)
    options = ChainOptions.of(config.options)
    if spec.kind == "bitcoin":
        from tallyhold.chains.bitcoin import EsploraClient, address_balances, xpub_balances

        async with EsploraClient(_esplora_url(config), options) as client:
            if request.xpub is not None:
                return await xpub_balances(client, request.xpub, request.gap_limit)
            assert request.address is not None  # the request model requires one of the two
            return await address_balances(client, request.address)
    if request.address is None:
        raise EgressError.of("invalid_request", "EVM wallets are read by address")
    from tallyhold.chains.evm import Read, reader_for

    reader = reader_for(spec.name, _rpc_url(spec, config), options)
    native = Read(request.address)
    tokens = {Read(request.address, token.contract): token for token in request.tokens}
    head, raw = await reader.balances([native, *tokens])
    found = [
        FetchedBalance(asset=spec.native_asset, location=ONCHAIN, amount=_scaled(raw[native], spec.native_decimals))
    ]
    for read, token in tokens.items():
        if raw[read]:  # tokens with nothing held are left out; the native coin is always reported
            found.append(
                FetchedBalance(asset=token.asset, location=token.location, amount=_scaled(raw[read], token.decimals))
            )
    return SourceBalances(
        balances=_merged(found),
        observed_at=datetime.now(UTC),
        facts={
            "chain_id": head.chain_id,
            "block_number": head.number,
            "block_hash": head.hash,
            "block_time": head.block_time.isoformat(),
            "tokens_read": len(tokens),
        },
    )


async def head(request: HeadRequest, config: EgressConfig) -> HeadReply:
    from tallyhold.chains.evm import reader_for

    spec = _evm(request.chain)
    current = await reader_for(spec.name, _rpc_url(spec, config), ChainOptions.of(config.options)).head(fresh=True)
    return HeadReply(
        chain=spec.name,
        chain_id=current.chain_id,
        block_number=current.number,
        block_hash=current.hash,
        block_time=current.block_time,
    )


async def token_info(request: TokenInfoRequest, config: EgressConfig) -> TokenInfoReply:
    from tallyhold.chains.evm import BALANCE_OF, DECIMALS, NAME, SYMBOL, decode_string, decode_uint8, reader_for

    spec = _evm(request.chain)
    reader = reader_for(spec.name, _rpc_url(spec, config), ChainOptions.of(config.options))
    current = await reader.head(fresh=True)
    code = await reader.code_at(request.contract, current.number)
    reply = TokenInfoReply(chain=spec.name, contract=request.contract, block_number=current.number, has_code=bool(code))
    if not code:
        return reply
    probe = BALANCE_OF + "0" * 63 + "1"  # balanceOf(0x…01): any ERC-20 answers, with a zero
    symbol, name, decimals, balance = await reader.call_at(
        [(request.contract, SYMBOL), (request.contract, NAME), (request.contract, DECIMALS), (request.contract, probe)],
        current.number,
    )
    reply.symbol = decode_string(symbol) if symbol is not None else None
    reply.name = decode_string(name) if name is not None else None
    reply.decimals = decode_uint8(decimals) if decimals is not None else None
    reply.balance_of = balance is not None and len(balance) == 32
    return reply


def _scaled(units: int, decimals: int) -> Decimal:
    # Exact: a string with an exponent is converted without rounding, whatever the context precision.
    return Decimal(f"{units}e-{decimals}")


def _merged(found: list[FetchedBalance]) -> list[FetchedBalance]:
    """Two tokens reported under the same (asset, location) are one holding (their amounts add up)."""
    merged: dict[tuple[str, str], FetchedBalance] = {}
    for item in found:
        key = (item.asset, item.location)
        if key in merged:
            with localcontext(prec=MONEY_PRECISION):  # exact: the default context would round at 28 digits
                total = merged[key].amount + item.amount
            merged[key] = merged[key].model_copy(update={"amount": total})
        else:
            merged[key] = item
    return list(merged.values())


def _spec(chain: str) -> ChainSpec:
    spec = CHAINS.get(chain)
    if spec is None:
        raise EgressError.of("unsupported_chain", "no such chain")
    return spec


def _evm(chain: str) -> ChainSpec:
    spec = _spec(chain)
    if spec.kind != "evm":
        raise EgressError.of("unsupported_chain", "not an EVM chain")
    return spec


def _rpc_url(spec: ChainSpec, config: EgressConfig) -> str:
    url = config.evm_rpc.get(spec.name)
    if not url:
        raise EgressError.of("chain_not_configured", f"no RPC URL is configured for {spec.name}", chain=spec.name)
    return url


def _esplora_url(config: EgressConfig) -> str:
    if not config.esplora_url:
        raise EgressError.of("chain_not_configured", "no Esplora URL is configured for bitcoin", chain="bitcoin")
    return config.esplora_url
