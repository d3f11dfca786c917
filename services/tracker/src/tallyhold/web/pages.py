"""What each page shows, gathered from the services the API answers with (no number is computed twice)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from tallyhold.api.state import InstanceState
from tallyhold.connections import service as connection_service
from tallyhold.connections.schemas import ConnectionOut
from tallyhold.portfolio import service as portfolio_service
from tallyhold.portfolio.endpoints import answer_cache, cached_networth
from tallyhold.portfolio.schemas import NetWorth
from tallyhold.sync.endpoints import current_status
from tallyhold.sync.schemas import SyncStatus

RANGES = {"24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30), "1y": timedelta(days=365)}
DEFAULT_RANGE = "30d"
CHANGES = {"24 h": timedelta(days=1), "7 d": timedelta(days=7), "30 d": timedelta(days=30)}
KEY_AGE_REMINDER_DAYS = 90
LIST_PAGE_SIZE = 1000  # the largest page GET /v1/connections serves
# History points are at least hourly for 90 days (retention), so the last point of the hour before suffices.
CHANGE_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class Dashboard:
    networth: NetWorth
    changes: dict[str, Decimal | None]
    chart_json: str
    chart_range: str
    sync: SyncStatus
    labels: dict[uuid.UUID, str]


def _change_since(rows: list[tuple[datetime, Decimal]], total: Decimal, at: datetime) -> Decimal | None:
    """Net worth now minus the last history point in the hour before `at`; None when history has no point there
    (it does not reach back that far, or the instance was not running then). `rows` are hourly buckets aligned so
    that `at` is a bucket boundary: the bucket starting at `at - 1h` holds that hour's last point."""
    earlier = [value for t, value in rows if at - CHANGE_LOOKBACK <= t < at]
    return total - earlier[-1] if earlier else None


async def dashboard(session: AsyncSession, state: InstanceState, chart_range: str) -> Dashboard:
    """What the dashboard shows, from the same cache as `/v1/networth`'s answer, so a page view costs queries
    only when something changed. It shows the sync's live state too, so every write of this process makes it
    stale, a sync's included (another process's within PORTFOLIO_CACHE_SECONDS)."""
    return await answer_cache(state).get_or_compute(
        ("web-dashboard", chart_range),
        session,
        lambda s: _gather_dashboard(s, state, chart_range),
        wait_for_background=True,
    )


async def _gather_dashboard(session: AsyncSession, state: InstanceState, chart_range: str) -> Dashboard:
    quote = state.settings.portfolio.quote_currency
    networth = await cached_networth(session, state, wait_for_background=True)
    now = datetime.now(UTC)
    # One hourly read of the last 30 days (and an hour) gives the changes, and is the default range's chart too:
    # each history read is a query, and they are most of a page view's cost (bench/bench_web.py).
    window = await portfolio_service.history(
        session, quote, now - max(CHANGES.values()) - CHANGE_LOOKBACK, now, CHANGE_LOOKBACK
    )
    changes = {name: _change_since(window.rows, networth.total, now - span) for name, span in CHANGES.items()}
    if chart_range == "30d":
        chart = window
    else:
        chart = await portfolio_service.history(session, quote, now - RANGES[chart_range], now, None)
    chart_json = orjson.dumps(
        {
            "quote": quote,
            "start": int((now - RANGES[chart_range]).timestamp()),
            "end": int(chart.end.timestamp()),
            "t": [int(t.timestamp()) for t, _ in chart.rows],
            "v": [str(v) for _, v in chart.rows],
        }
    ).decode()
    sync = await current_status(session, state)
    labels = {share.connection_id: share.label for share in networth.by_connection}
    labels.update({source.connection_id: source.label for source in sync.sources})
    return Dashboard(networth, changes, chart_json, chart_range, sync, labels)


@dataclass(frozen=True)
class ConnectionRow:
    connection: ConnectionOut
    state: str | None
    last_success_at: datetime | None
    key_reminder: bool


async def connections(session: AsyncSession, state: InstanceState) -> list[ConnectionRow]:
    # Every connection on one page, read a page of the API's size at a time (its list is paginated).
    listed: list[ConnectionOut] = []
    cursor: str | None = None
    while True:
        page = await connection_service.list_page(session, cursor, LIST_PAGE_SIZE)
        listed.extend(page.items)
        if (cursor := page.next_cursor) is None:
            break
    status = {source.connection_id: source for source in (await current_status(session, state)).sources}
    rows = []
    for connection in listed:
        source = status.get(connection.id)
        rows.append(
            ConnectionRow(
                connection=connection,
                state=source.state if source else None,
                last_success_at=source.last_success_at if source else connection.last_sync_at,
                key_reminder=(connection.key_age_days or 0) >= KEY_AGE_REMINDER_DAYS,
            )
        )
    return rows
