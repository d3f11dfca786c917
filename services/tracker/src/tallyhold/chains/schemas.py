from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tallyhold.connections.schemas import StrictInput
from tallyhold.types import Label

ChainField = Field(
    description="`ethereum`, `arbitrum`, `optimism`, `base`, `polygon`, `bsc` or `bitcoin`.",
    min_length=1,
    max_length=32,
)


class WalletCreate(StrictInput):
    """A wallet by its public address, or (Bitcoin) by an extended public key. Never anything secret: a private
    key, WIF, xprv or recovery phrase in any field is refused with 422 `secret_material`."""

    chain: str = ChainField
    address: str | None = Field(
        None,
        max_length=200,
        description="EVM: 0x + 40 hex (EIP-55 checked when mixed case). Bitcoin: a P2PKH, P2SH, P2WPKH, P2WSH "
        "or P2TR mainnet address.",
    )
    xpub: str | None = Field(
        None,
        max_length=200,
        description="Bitcoin only: an account-level xpub, ypub or zpub (scanned to the gap limit).",
    )
    label: Label | None = Field(None, description="Defaults to the chain's name + ' wallet'.")


class TokenCreate(StrictInput):
    chain: str = ChainField
    contract: str = Field(min_length=1, max_length=200, description="The token contract's address on that chain.")


class TokenOut(BaseModel):
    id: uuid.UUID | None = Field(description="Custom tokens only (the id to delete them by).")
    chain: str
    contract: str
    symbol: str
    name: str | None = None
    decimals: int
    asset: str = Field(description="The canonical asset code the balance is reported and priced as.")
    source: Literal["curated", "custom"]
    created_at: datetime | None = None


class TokenList(BaseModel):
    items: list[TokenOut]


class ChainOut(BaseModel):
    name: str
    display: str
    kind: Literal["evm", "bitcoin"]
    chain_id: int | None
    native_asset: str
    configured: bool = Field(description="Whether this instance has an RPC (EVM) or Esplora URL (bitcoin) for it.")
    curated_tokens: int


class ChainList(BaseModel):
    items: list[ChainOut]
