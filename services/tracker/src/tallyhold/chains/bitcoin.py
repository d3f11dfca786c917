"""Bitcoin balances through an Esplora HTTP API (egress worker only).

`GET {ESPLORA_URL}/address/{address}` answers `chain_stats` and `mempool_stats` (funded/spent sums in satoshi,
tx counts). For a wallet (one address, or every address of an xpub scanned so far):
    confirmed = Σ chain funded − chain spent          pending = Σ mempool funded − mempool spent
    amount      = confirmed + min(0, pending)   what is certainly there (pending spends already subtracted)
    unconfirmed = max(0, pending)               incoming, seen in the mempool, not yet confirmed
so that amount + unconfirmed is the balance once the mempool confirms, and `amount` never counts coins that
are on their way out.

An xpub scan walks the receive (…/0/i) and change (…/1/i) chains and stops after `gap_limit` unused addresses
in a row (no transaction, confirmed or not): exactly last used index + gap limit + 1 addresses per chain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from tallyhold.chains.hdkeys import CHANGE, RECEIVE, XpubDeriver
from tallyhold.chains.options import ChainOptions
from tallyhold.chains.retry import with_retries
from tallyhold.egress.protocol import EgressError
from tallyhold.sources.models import FetchedBalance, SourceBalances

SATOSHI = Decimal("1e-8")
_STAT_FIELDS = ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count")


@dataclass(frozen=True)
class AddressStats:
    chain_funded: int
    chain_spent: int
    chain_txs: int
    mempool_funded: int
    mempool_spent: int
    mempool_txs: int

    @property
    def used(self) -> bool:
        return self.chain_txs > 0 or self.mempool_txs > 0


class EsploraClient:
    def __init__(self, base_url: str, options: ChainOptions) -> None:
        self.options = options
        self.gate = asyncio.Semaphore(options.esplora_concurrency)
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=options.timeout_seconds,
            follow_redirects=False,
            headers={"Accept": "application/json"},
        )
        self.requests = 0

    async def __aenter__(self) -> EsploraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def address(self, address: str) -> AddressStats:
        async with self.gate:
            body = await with_retries(
                lambda: self._get_json(f"/address/{quote(address, safe='')}"),
                retries=self.options.retries,
                base=self.options.retry_base_seconds,
                cap=self.options.retry_cap_seconds,
                what="esplora address",
            )
        return _stats(body)

    async def _get_json(self, path: str) -> Any:
        response = await self._get(path)
        try:
            return response.json()
        except ValueError:
            raise EgressError.of(
                "malformed_response", "Esplora answered something unreadable", transient=True
            ) from None

    async def _get(self, path: str) -> httpx.Response:
        self.requests += 1
        try:
            response = await self.http.get(path)
        except httpx.TimeoutException:
            raise EgressError.of("timeout", "Esplora did not answer in time", transient=True) from None
        except httpx.HTTPError:
            raise EgressError.of("esplora_unavailable", "Esplora could not be reached", transient=True) from None
        if response.status_code == 200:
            return response
        if response.status_code == 429:
            raise EgressError.of(
                "rate_limited",
                "Esplora is rate limiting",
                transient=True,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code == 400:
            # Esplora's answer to an address it cannot parse or of another network ("Invalid Bitcoin address").
            raise EgressError.of("invalid_address", "Esplora refused the address", transient=False)
        transient = response.status_code >= 500 or response.status_code == 408
        raise EgressError.of(
            "esplora_unavailable", f"Esplora answered HTTP {response.status_code}", transient=transient
        )


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _stats(body: Any) -> AddressStats:
    try:
        chain, mempool = body["chain_stats"], body["mempool_stats"]
        values = {
            f"{side}_{name}": stats[name] for side, stats in (("c", chain), ("m", mempool)) for name in _STAT_FIELDS
        }
    except (KeyError, TypeError):
        raise EgressError.of(
            "malformed_response", "Esplora's address answer lacked its stats", transient=True
        ) from None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values()):
        raise EgressError.of("malformed_response", "Esplora's address stats were not counts", transient=True)
    if values["c_spent_txo_sum"] > values["c_funded_txo_sum"]:
        raise EgressError.of("malformed_response", "Esplora reported more spent than funded", transient=True)
    return AddressStats(
        chain_funded=values["c_funded_txo_sum"],
        chain_spent=values["c_spent_txo_sum"],
        chain_txs=values["c_tx_count"],
        mempool_funded=values["m_funded_txo_sum"],
        mempool_spent=values["m_spent_txo_sum"],
        mempool_txs=values["m_tx_count"],
    )


def to_balance(stats: list[AddressStats]) -> FetchedBalance:
    confirmed = sum(s.chain_funded - s.chain_spent for s in stats)
    pending = sum(s.mempool_funded - s.mempool_spent for s in stats)
    amount = confirmed + min(0, pending)
    return FetchedBalance(
        asset="BTC",
        location="onchain",
        amount=max(0, amount) * SATOSHI,
        unconfirmed=max(0, pending) * SATOSHI,
    )


async def address_balances(client: EsploraClient, address: str) -> SourceBalances:
    stats = await client.address(address)
    return SourceBalances(
        balances=[to_balance([stats])],
        observed_at=datetime.now(UTC),
        facts={"addresses_scanned": 1, "addresses_used": int(stats.used)},
    )


async def scan_chain(
    client: EsploraClient, deriver: XpubDeriver, chain: int, gap_limit: int
) -> dict[int, AddressStats]:
    """Stats of <key>/chain/0, 1, … up to the last used index + gap_limit, and not one address further."""
    found: dict[int, AddressStats] = {}
    last_used = -1
    next_index = 0
    while next_index <= last_used + gap_limit:
        window = range(next_index, last_used + gap_limit + 1)
        answers = await asyncio.gather(*(client.address(deriver.address(chain, i)) for i in window))
        next_index = window.stop
        for index, stats in zip(window, answers, strict=True):
            found[index] = stats
            if stats.used:
                last_used = max(last_used, index)
    return found


async def xpub_balances(client: EsploraClient, xpub: str, gap_limit: int) -> SourceBalances:
    deriver = XpubDeriver(xpub)
    receive, change = await asyncio.gather(
        scan_chain(client, deriver, RECEIVE, gap_limit), scan_chain(client, deriver, CHANGE, gap_limit)
    )
    every = [*receive.values(), *change.values()]
    return SourceBalances(
        balances=[to_balance(every)],
        observed_at=datetime.now(UTC),
        facts={
            "script": deriver.script,
            "gap_limit": gap_limit,
            "addresses_scanned": len(every),
            "addresses_used": sum(s.used for s in every),
            "receive_next_index": 1 + max((i for i, s in receive.items() if s.used), default=-1),
            "change_next_index": 1 + max((i for i, s in change.items() if s.used), default=-1),
        },
    )
