"""The sync request builder of wallet connections (the runtime's `request_builders()["wallet"]`): runs in the API
process, reads the chain's custom tokens, and names the egress call. The reply is `SourceBalances`."""

from __future__ import annotations

from tallyhold.chains.addresses import looks_like_extended_key
from tallyhold.chains.catalog import CHAINS, token_location
from tallyhold.chains.repository import CustomTokenRepository
from tallyhold.chains.tokenlist import curated_tokens
from tallyhold.chains.wire import TokenSpec, WalletBalancesRequest
from tallyhold.egress.protocol import EgressError
from tallyhold.models import Connection
from tallyhold.sources.models import EgressCall, SourceContext


async def build_wallet_request(connection: Connection, context: SourceContext) -> EgressCall:
    spec = CHAINS.get(connection.chain or "")
    if spec is None or not connection.address:
        raise EgressError.of("unsupported_chain", "the wallet's chain is not supported")
    if spec.kind == "bitcoin":
        is_xpub = looks_like_extended_key(connection.address)
        request = WalletBalancesRequest(
            chain=spec.name,
            address=None if is_xpub else connection.address,
            xpub=connection.address if is_xpub else None,
            gap_limit=context.settings.chains.bitcoin_gap_limit,
        )
    else:
        tokens = [
            TokenSpec(
                contract=t.contract, decimals=t.decimals, asset=t.asset, location=token_location(t.symbol, t.asset)
            )
            for t in curated_tokens(spec.name)
        ]
        tokens += [
            TokenSpec(
                contract=t.contract, decimals=t.decimals, asset=t.asset, location=token_location(t.symbol, t.asset)
            )
            for t in await CustomTokenRepository(context.session).for_chain(spec.name)
        ]
        request = WalletBalancesRequest(chain=spec.name, address=connection.address, tokens=tokens)
    return EgressCall(op="chain.balances", request=request, venue=spec.name)
