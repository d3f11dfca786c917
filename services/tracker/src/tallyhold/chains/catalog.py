"""The chains Tallyhold reads, with what must hold for an RPC to be trusted: the EVM chain id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ChainName = Literal["ethereum", "arbitrum", "optimism", "base", "polygon", "bsc", "bitcoin"]


@dataclass(frozen=True)
class ChainSpec:
    name: str
    kind: Literal["evm", "bitcoin"]
    display: str
    native_asset: str  # canonical asset code, as the price service knows it
    native_decimals: int
    chain_id: int | None = None  # EVM only: an RPC answering another id is refused


CHAINS: dict[str, ChainSpec] = {
    spec.name: spec
    for spec in (
        ChainSpec("ethereum", "evm", "Ethereum", "ETH", 18, chain_id=1),
        ChainSpec("arbitrum", "evm", "Arbitrum One", "ETH", 18, chain_id=42161),
        ChainSpec("optimism", "evm", "OP Mainnet", "ETH", 18, chain_id=10),
        ChainSpec("base", "evm", "Base", "ETH", 18, chain_id=8453),
        ChainSpec("polygon", "evm", "Polygon PoS", "POL", 18, chain_id=137),
        ChainSpec("bsc", "evm", "BNB Smart Chain", "BNB", 18, chain_id=56),
        ChainSpec("bitcoin", "bitcoin", "Bitcoin", "BTC", 8),
    )
}
EVM_CHAIN_NAMES = tuple(name for name, spec in CHAINS.items() if spec.kind == "evm")

# Where on-chain holdings are reported (Balance.location). A token whose canonical asset differs from its own
# symbol (WETH → ETH, USDC.e → USDC) gets `onchain:<symbol>` (lowercase, as the sync engine stores locations),
# so it never collides with the native coin or the canonical token in the same wallet, and the customer can
# still tell them apart.
ONCHAIN = "onchain"


def token_location(symbol: str, asset: str) -> str:
    return ONCHAIN if symbol.upper() == asset else f"{ONCHAIN}:{symbol.lower()}"[:32]
