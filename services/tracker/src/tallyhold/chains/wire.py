"""Requests and replies of the chain operations of the egress worker (see egress/operations.py).

Imported by both sides, so nothing here imports web3 or bip-utils. Every balance read replies with the sync
contract's `SourceBalances`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from tallyhold.egress.protocol import WireMessage


class TokenSpec(WireMessage):
    """An ERC-20 to read for a wallet: curated or custom, as the API process resolved it."""

    contract: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    decimals: int = Field(ge=0, le=77)
    asset: str = Field(min_length=1, max_length=32)
    location: str = Field(min_length=1, max_length=32)


class WalletBalancesRequest(WireMessage):
    """`chain.balances`: one wallet. EVM: `address` plus the tokens to read. Bitcoin: `address` or `xpub`."""

    chain: str
    address: str | None = None
    xpub: str | None = None
    tokens: list[TokenSpec] = Field(default_factory=list)
    gap_limit: int = Field(20, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_target(self) -> WalletBalancesRequest:
        if (self.address is None) == (self.xpub is None):
            raise ValueError("exactly one of address and xpub")
        return self


class HeadRequest(WireMessage):
    """`chain.head`: what the configured RPC serves (chain id checked) and its latest block."""

    chain: str


class HeadReply(WireMessage):
    chain: str
    chain_id: int
    block_number: int
    block_hash: str
    block_time: datetime


class TokenInfoRequest(WireMessage):
    """`chain.token_info`: what a contract says about itself, read at one block."""

    chain: str
    contract: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")


class TokenInfoReply(WireMessage):
    """Raw facts; the API process decides whether they make an acceptable token (chains/service.py)."""

    chain: str
    contract: str
    block_number: int
    has_code: bool
    symbol: str | None = None  # None: symbol() reverted, returned nothing, or not a string / bytes32
    name: str | None = None
    decimals: int | None = None  # None: decimals() reverted or returned something that is not a uint8
    balance_of: bool = False  # balanceOf(address) answered a uint256
    facts: dict[str, Any] = Field(default_factory=dict)
