"""The protocol every venue adapter implements, and the helpers they share.

An adapter never sees ccxt: it gets an `Api` whose `call(method, params)` runs one declared ccxt implicit
method (through the transport guard, retries and error translation of exchanges/session.py) and returns the
decoded JSON. Adapters read those answers with the strict readers of exchanges/parse.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from tallyhold.exchanges.errors import CallFailure
from tallyhold.exchanges.model import BalanceSheet, IpLimit, KeyReport, LedgerEntry, VenueInfo


class Api(Protocol):
    venue: str

    @property
    def key_id(self) -> str:
        """The API key's public identifier (some venues take it as a parameter: HTX, MEXC)."""
        ...

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class TradeProbe:
    """How an unverifiable venue's key is probed: cancelling an order that cannot exist (`method` with `params`)."""

    method: str
    params: Mapping[str, Any]
    switch_off: str  # what the customer must switch off when the venue looked for the order
    denied_codes: frozenset[str] = frozenset()  # the venue's documented "no trading" codes, where it has any
    code_keys: tuple[str, ...] = ()  # where the venue puts its error code in the error body
    # False where the venue grants each endpoint separately: not cancelling proves nothing about buying.
    proves_trade: bool = True


class Adapter:
    info: ClassVar[VenueInfo]
    # Every ccxt implicit method (camelCase) the adapter may call; nothing else is reachable.
    methods: ClassVar[frozenset[str]]
    # Documented venue error codes that ccxt leaves unmapped, with the ccxt error class each one means. They join
    # the exchange's own `exceptions["exact"]` table, so errors are still classified by class (errors.py).
    unmapped_errors: ClassVar[Mapping[str, str]] = {}
    # A venue that limits requests per IP declares the limit and what each declared method weighs: every instance
    # behind one egress IP spends the same budget, shared through the egress budget (egress/budget.py). Venues
    # whose limits are per key or per account leave it None: one customer cannot spend another's.
    ip_limit: ClassVar[IpLimit | None] = None
    weights: ClassVar[Mapping[str, int]] = {}

    def weight(self, method: str) -> int:
        return self.weights.get(method, 1)

    # Unverifiable venues only: the harmless trade-permission probe `probe` runs.
    trade_probe: ClassVar[TradeProbe | None] = None

    async def check(self, api: Api) -> KeyReport:
        """Verified venues: ask the permission endpoint. Raises CallFailure / Malformed."""
        raise NotImplementedError

    async def probe(self, api: Api) -> KeyReport:
        """Unverifiable venues: prove read access (a balance read, before anything else), then run the harmless
        trade-permission probe. Raises CallFailure / Malformed / ProbeInconclusive."""
        spec = self.trade_probe
        if spec is None:
            raise NotImplementedError
        await self.balances(api, None)
        can_cancel = await cancel_probe(
            api, spec.method, spec.params, denied_codes=spec.denied_codes, code_keys=spec.code_keys
        )
        return KeyReport(
            read=True,
            trade=can_cancel if spec.proves_trade else None,
            withdraw=None,
            transfer=None,
            verified_by="unverifiable",
            switch_off=[spec.switch_off] if can_cancel else [],
        )

    async def balances(self, api: Api, report: KeyReport | None) -> BalanceSheet:
        raise NotImplementedError

    async def ledger(self, api: Api, since: datetime | None) -> list[LedgerEntry]:
        """The account's movements since `since` (newest first), where the venue keeps a ledger."""
        raise NotImplementedError

    def not_opened(self, wallet: str, failure: CallFailure) -> bool:
        """Whether `failure` means the account simply has no such wallet (documented venue codes only)."""
        return False

    def asset_code(self, code: str, location: str, common: Mapping[str, str]) -> tuple[str, str]:
        """(asset, location) for the venue's upper-cased asset id `code` found at `location`, with ccxt's code
        map for the venue (`common`). Venues whose ids carry more than a name (Kraken's prefixes and suffixes,
        Binance's LD* earn tokens) override it; exchanges/assets.py makes the result safe to show."""
        return common.get(code, code), location


async def read_wallets(
    adapter: Adapter, sheet: BalanceSheet, readers: Mapping[str, Callable[[], Awaitable[None]]]
) -> None:
    """Read several wallets at once. A wallet the account never opened is recorded as such; any other failure
    fails the whole read: a total with a wallet silently missing is worse than no new total."""

    async def one(name: str, reader: Callable[[], Awaitable[None]]) -> None:
        try:
            await reader()
        except CallFailure as failure:
            if not adapter.not_opened(name, failure):
                raise
            sheet.wallets[name] = "not_opened"
            return
        sheet.wallets[name] = "ok"

    try:
        async with asyncio.TaskGroup() as group:
            for name, reader in readers.items():
                group.create_task(one(name, reader))
    except BaseExceptionGroup as failed:
        raise first_leaf(failed) from None


def first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first real failure inside a (possibly nested) exception group: the others are its consequences."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def venue_code(failure: CallFailure, *keys: str) -> str | None:
    """The venue's own error code from the decoded error body (`code`, `retCode`, `errorCode`, ...)."""
    body = failure.body
    if isinstance(body, Mapping):
        for key in keys:
            value = body.get(key)
            if value is not None and not isinstance(value, Mapping | list):
                return str(value)
    return None


class ProbeInconclusive(Exception):
    """A trade-permission probe whose answer proves nothing either way: the key is refused (fail closed)."""


async def cancel_probe(
    api: Api,
    method: str,
    params: Mapping[str, Any],
    *,
    denied_codes: frozenset[str] = frozenset(),
    code_keys: tuple[str, ...] = (),
) -> bool:
    """Cancel an order that cannot exist, by an impossible id (never a cancel-all, which would cancel real orders;
    never a validate-only order, which becomes a real order if a wrapper drops the flag).
    True: the venue looked for the order, so the key may trade. False: the venue refused the permission (and,
    where the venue documents the code for it, said exactly that). Anything else raises ProbeInconclusive."""
    try:
        await api.call(method, params)
    except CallFailure as failure:
        if failure.code == "order_not_found":
            return True
        if failure.code == "permission_denied":
            if denied_codes and venue_code(failure, *code_keys) not in denied_codes:
                raise ProbeInconclusive(method) from None
            return False
        if failure.transient:
            raise  # the venue failed: report that (transient), not an inconclusive probe
        raise ProbeInconclusive(method) from None
    return True  # the cancel "succeeded": the key can at least cancel orders
