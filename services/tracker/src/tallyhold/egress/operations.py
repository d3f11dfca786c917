"""The operations the egress worker can perform. Each entry names its request and reply models and the
handler, as import paths, so that neither side imports the other's heavy modules to learn the catalogue.

Domains add their operations here (exchanges, chains, prices). A handler is
`async def handle(request: RequestModel, config: EgressConfig) -> ReplyModel` and raises `EgressError`.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel

from tallyhold.egress.protocol import EgressConfig


@dataclass(frozen=True)
class Operation:
    request: str  # "module:Class"
    reply: str  # "module:Class"
    handler: str  # "module:function"

    def request_model(self) -> type[BaseModel]:
        return cast(type[BaseModel], _load(self.request))

    def reply_model(self) -> type[BaseModel]:
        return cast(type[BaseModel], _load(self.reply))

    def handler_function(self) -> Callable[[Any, EgressConfig], Awaitable[BaseModel]]:
        return cast(Callable[[Any, EgressConfig], Awaitable[BaseModel]], _load(self.handler))


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


OPERATIONS: dict[str, Operation] = {
    "egress.echo": Operation(
        request="tallyhold.egress.builtin:EchoRequest",
        reply="tallyhold.egress.builtin:EchoReply",
        handler="tallyhold.egress.builtin:echo",
    ),
    # exchanges/: prove a key read-only (before it is stored), and read a connection's balances
    "exchange.verify": Operation(
        request="tallyhold.exchanges.wire:VerifyRequest",
        reply="tallyhold.exchanges.wire:VerifyReply",
        handler="tallyhold.exchanges.handlers:verify",
    ),
    "exchange.balances": Operation(
        request="tallyhold.exchanges.wire:BalancesRequest",
        reply="tallyhold.sources.models:SourceBalances",
        handler="tallyhold.exchanges.handlers:balances",
    ),
    "exchange.ledger": Operation(
        request="tallyhold.exchanges.wire:LedgerRequest",
        reply="tallyhold.exchanges.wire:LedgerReply",
        handler="tallyhold.exchanges.handlers:ledger",
    ),
    "prices.tickers": Operation(
        request="tallyhold.prices.wire:TickersRequest",
        reply="tallyhold.prices.wire:TickersReply",
        handler="tallyhold.prices.tickers:fetch_tickers",
    ),
    # chains/: a wallet's balances (EVM or Bitcoin), an RPC's head (chain id check), a token contract's facts
    "chain.balances": Operation(
        request="tallyhold.chains.wire:WalletBalancesRequest",
        reply="tallyhold.sources.models:SourceBalances",
        handler="tallyhold.chains.handlers:balances",
    ),
    "chain.head": Operation(
        request="tallyhold.chains.wire:HeadRequest",
        reply="tallyhold.chains.wire:HeadReply",
        handler="tallyhold.chains.handlers:head",
    ),
    "chain.token_info": Operation(
        request="tallyhold.chains.wire:TokenInfoRequest",
        reply="tallyhold.chains.wire:TokenInfoReply",
        handler="tallyhold.chains.handlers:token_info",
    ),
}
