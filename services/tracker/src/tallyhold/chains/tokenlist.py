"""The curated ERC-20 tokens of each EVM chain, shipped as data in `tokens/<chain>.json`.

Each entry: `contract` (EIP-55), `symbol` (as the contract reports it), `decimals`, and `asset`, the canonical
code the price service prices it by. Wrapped and bridged forms map to what they stand for (WETH → ETH,
USDC.e → USDC, BTCB → BTC); they are then reported at location `onchain:<symbol>` (see catalog.token_location).
A test checks every file: valid EIP-55 contracts, no duplicates, sane decimals and asset codes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tallyhold.chains.catalog import CHAINS, EVM_CHAIN_NAMES

TOKENS_DIR = Path(__file__).with_name("tokens")


@dataclass(frozen=True)
class CuratedToken:
    chain: str
    contract: str
    symbol: str
    decimals: int
    asset: str


@cache
def curated_tokens(chain: str) -> tuple[CuratedToken, ...]:
    if chain not in EVM_CHAIN_NAMES:
        return ()
    data = json.loads((TOKENS_DIR / f"{chain}.json").read_text(encoding="utf-8"))
    if data.get("chain") != chain:
        raise ValueError(f"token list {chain}.json names another chain")
    return tuple(
        CuratedToken(
            chain=chain,
            contract=str(item["contract"]),
            symbol=str(item["symbol"]),
            decimals=int(item["decimals"]),
            asset=str(item["asset"]),
        )
        for item in data["tokens"]
    )


def curated_by_contract(chain: str) -> dict[str, CuratedToken]:
    return {token.contract.lower(): token for token in curated_tokens(chain)}


def reserved_codes(chain: str) -> set[str]:
    """Codes a custom token may not take on `chain`: the native coin's and every curated token's asset code and
    symbol. A contract calling itself "USDT" must not be priced (and counted) as Tether."""
    codes = {CHAINS[chain].native_asset}
    for token in curated_tokens(chain):
        codes.add(token.asset)
        codes.add(token.symbol.upper())
    return codes
