"""The price service: refreshes the market price of every asset held, in the instance's quote currency.

One egress call (`prices.tickers`) asks the venues of PRICE_VENUES in order; conversion happens here
(prices/conversion.py). Venues whose breaker is open are not asked; a venue that answers 429/418 opens its
breaker, shared with the sync engine (the limits are per IP, whatever the call was for). Prices that cannot
be refreshed keep their last value and time, so they turn stale rather than wrong; assets nobody prices are
reported as unpriced, never valued at zero.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tallyhold import metrics
from tallyhold.breakers.policy import Breakers, BreakerState, Failure
from tallyhold.breakers.repository import BreakerRepository
from tallyhold.db import transaction
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressError
from tallyhold.prices.conversion import resolve
from tallyhold.prices.repository import PriceRepository
from tallyhold.prices.wire import TickersReply, TickersRequest
from tallyhold.settings import Settings

logger = logging.getLogger("tallyhold.prices")


@dataclass
class PriceRefresh:
    at: datetime
    priced: list[str] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    failed_venues: dict[str, str] = field(default_factory=dict)
    skipped_venues: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def outcome(self) -> str:
        if self.error is not None or (self.unpriced and not self.priced):
            return "failed"
        return "partial" if self.unpriced or self.failed_venues else "success"


class PriceService:
    def __init__(
        self,
        settings: Settings,
        session_maker: async_sessionmaker[AsyncSession],
        egress: EgressClient,
        breakers: Breakers,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.session_maker = session_maker
        self.egress = egress
        self.breakers = breakers
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = asyncio.Lock()

    async def refresh(self) -> PriceRefresh:
        """Fetch, convert and store. Concurrent calls queue behind one another."""
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> PriceRefresh:
        settings = self.settings
        quote = settings.portfolio.quote_currency
        now = self.clock()
        report = PriceRefresh(at=now)
        async with self.session_maker() as session:
            rows = await BreakerRepository(session).open_breakers(now)
            self.breakers.reconcile({row.venue: (row.open_until, row.reason) for row in rows}, now)
            assets = [asset for asset in await PriceRepository(session).held_assets() if asset != quote]
        venues = []
        for venue in settings.prices.venues:
            if self.breakers.state(venue, now) is BreakerState.open:
                report.skipped_venues.append(venue)
            else:
                venues.append(venue)
        if assets and venues:
            reply = await self._fetch(venues, assets, report)
            if reply is not None:
                await self._store(reply, venues, assets, report, now)
        elif assets:
            report.unpriced = assets
        await self._publish(now)
        if assets:
            metrics.PRICE_REFRESHES.labels(report.outcome).inc()
            if report.priced:
                metrics.PRICE_LAST_SUCCESS.set(now.timestamp())
        return report

    async def _fetch(self, venues: list[str], assets: list[str], report: PriceRefresh) -> TickersReply | None:
        request = TickersRequest(
            venues=venues, assets=assets, quote=self.settings.portfolio.quote_currency, timeout_seconds=10.0
        )
        try:
            return await asyncio.wait_for(
                self.egress.call("prices.tickers", request, TickersReply),
                self.settings.sync.timeout_seconds,
            )
        except TimeoutError:
            report.error = "timeout"
        except EgressError as exc:
            report.error = exc.code
        report.unpriced = assets
        logger.warning("price refresh failed", extra={"code": report.error})
        return None

    async def _store(
        self, reply: TickersReply, venues: list[str], assets: list[str], report: PriceRefresh, now: datetime
    ) -> None:
        quote = self.settings.portfolio.quote_currency
        resolved = resolve(reply.tickers, assets, quote, venues)
        report.priced = sorted(resolved)
        report.unpriced = sorted(set(assets) - set(resolved))
        async with transaction(self.session_maker) as session:
            breakers = BreakerRepository(session)
            for failure in reply.failures:
                report.failed_venues[failure.venue] = failure.code
                metrics.PRICE_VENUE_ERRORS.labels(failure.venue, failure.code).inc()
                as_failure = Failure(failure.code, transient=True, retry_after=failure.retry_after)
                if failure.code in {"rate_limited", "banned"}:
                    metrics.RATE_LIMITED.labels(failure.venue, failure.code).inc()
                opened = self.breakers.failure(failure.venue, as_failure, now)
                if opened is not None:
                    reason = self.breakers.reason(failure.venue) or failure.code
                    await breakers.open_breaker(failure.venue, reason, now, opened)
            for venue in sorted({ticker.venue for ticker in reply.tickers}):
                if self.breakers.success(venue, now):
                    await breakers.close_breaker(venue)
            prices = PriceRepository(session)
            for asset, price in resolved.items():
                await prices.upsert(asset, quote, price.price, price.source[:200], price.at)

    async def _publish(self, now: datetime) -> None:
        """Price freshness gauges, from what is stored (so they also grow while refreshes fail)."""
        quote = self.settings.portfolio.quote_currency
        async with self.session_maker() as session:
            repository = PriceRepository(session)
            assets = [asset for asset in await repository.held_assets() if asset != quote]
            stored = await repository.for_assets(assets, quote)
        ages = [(now - price.observed_at).total_seconds() for price in stored.values()]
        max_age = self.settings.prices.max_age
        metrics.PRICE_OLDEST_AGE.set(max(ages, default=0.0))
        metrics.PRICES_STALE.set(sum(1 for p in stored.values() if now - p.observed_at > max_age))
        metrics.ASSETS_UNPRICED.set(len(set(assets) - set(stored)))
