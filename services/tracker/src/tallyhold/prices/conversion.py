"""Pure price conversion: market tickers → the price of each asset in one quote currency. No I/O here.

Tickers form a graph: a ticker BASE/QUOTE at price p is an edge BASE→QUOTE with rate p and QUOTE→BASE with
rate 1/p. An asset's price is the product of the rates along the best path to the quote currency, at most
three legs (ETH → USDT → USD, or USD → EUR through EUR/USD). "Best" is, in order: fewer legs, then the
preferred venue (PRICE_VENUES order), then tickers read as listed over inverted ones. Nothing is assumed:
not USDT = 1 USD, not EUR = 1.08 USD; every leg comes from a market, and the result names every ticker used
(`source`) and the time of its oldest one (`at`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from tallyhold.prices.wire import DEFAULT_BRIDGES, Ticker

MAX_LEGS = 3
# Digits carried through a chain of rates, and kept in the result (more than any venue quotes).
CONVERSION_PRECISION = 28
RESULT_DIGITS = 18


@dataclass(frozen=True)
class Edge:
    rate: Decimal
    label: str  # "kraken:USDT/USD"
    at: datetime
    rank: int  # venue preference: 0 is the first of PRICE_VENUES
    inverted: bool


@dataclass(frozen=True)
class Resolved:
    price: Decimal
    source: str
    at: datetime


def _edges(tickers: Iterable[Ticker], venue_order: Sequence[str]) -> dict[tuple[str, str], Edge]:
    ranks = {venue: index for index, venue in enumerate(venue_order)}
    best: dict[tuple[str, str], Edge] = {}
    with localcontext(prec=CONVERSION_PRECISION):
        for ticker in tickers:
            if ticker.price <= 0 or ticker.base == ticker.quote:
                continue
            rank = ranks.get(ticker.venue, len(ranks))
            label = f"{ticker.venue}:{ticker.base}/{ticker.quote}"
            for key, edge in (
                ((ticker.base, ticker.quote), Edge(ticker.price, label, ticker.at, rank, False)),
                ((ticker.quote, ticker.base), Edge(Decimal(1) / ticker.price, label, ticker.at, rank, True)),
            ):
                current = best.get(key)
                if current is None or (edge.rank, edge.inverted) < (current.rank, current.inverted):
                    best[key] = edge
    return best


def resolve(
    tickers: Iterable[Ticker],
    assets: Iterable[str],
    quote: str,
    venue_order: Sequence[str],
    bridges: Iterable[str] = DEFAULT_BRIDGES,
) -> dict[str, Resolved]:
    """The price in `quote` of every asset a path exists for; assets without one are simply absent. Paths only
    pass through `bridges` (major currencies and coins), never through another small asset."""
    via = frozenset(bridges)
    edges = _edges(tickers, venue_order)
    neighbours: dict[str, list[tuple[str, Edge]]] = {}
    for (start, end), edge in edges.items():
        neighbours.setdefault(start, []).append((end, edge))
    resolved: dict[str, Resolved] = {}
    for asset in sorted(set(assets)):
        if asset == quote:
            continue
        path = _best_path(asset, quote, neighbours, via)
        if path is None:
            continue
        with localcontext(prec=CONVERSION_PRECISION):
            price = Decimal(1)
            for edge in path:
                price *= edge.rate
        with localcontext(prec=RESULT_DIGITS):
            price = +price  # rounds to RESULT_DIGITS significant digits
        resolved[asset] = Resolved(
            price=price.normalize(),
            source="*".join(edge.label for edge in path),
            at=min(edge.at for edge in path),
        )
    return resolved


def _score(path: list[Edge]) -> tuple[int, int, int, int]:
    return (len(path), max(e.rank for e in path), sum(e.rank for e in path), sum(e.inverted for e in path))


def _best_path(
    start: str, goal: str, neighbours: dict[str, list[tuple[str, Edge]]], via: frozenset[str]
) -> list[Edge] | None:
    best: list[Edge] | None = None
    stack: list[tuple[str, list[Edge], frozenset[str]]] = [(start, [], frozenset({start}))]
    while stack:
        node, path, seen = stack.pop()
        for nxt, edge in neighbours.get(node, []):
            if nxt in seen:
                continue
            candidate = [*path, edge]
            if nxt == goal:
                if best is None or _score(candidate) < _score(best):
                    best = candidate
            elif len(candidate) < MAX_LEGS and nxt in via:
                stack.append((nxt, candidate, seen | {nxt}))
    return best
