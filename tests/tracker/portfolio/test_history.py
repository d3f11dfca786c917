"""A year of 5-minute net-worth snapshots: downsampling keeps the right points, history stays bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, text

from tallyhold.db import create_engine, create_session_maker, transaction
from tallyhold.models import NetWorthSnapshot
from tallyhold.portfolio.history import Retention, apply_retention
from tallyhold.portfolio.service import HistorySeries
from tallyhold.settings import Settings

STEP = 300
YEAR = 365 * 86_400
# total = the sample's index (0 .. 105,119): the value of any point tells exactly which sample it came from.
FILL = text(
    """
    INSERT INTO networth_snapshots (taken_at, quote, total, resolution)
    SELECT :start + make_interval(secs => i * 300), 'USD', i, 'raw' FROM generate_series(0, :count - 1) AS i
    """
)


def index_at(start: datetime, moment: datetime) -> int:
    return int((moment - start).total_seconds()) // STEP


async def _rows(session, resolution: str) -> list[tuple[datetime, Decimal]]:
    result = await session.execute(
        select(NetWorthSnapshot.taken_at, NetWorthSnapshot.total)
        .where(NetWorthSnapshot.resolution == resolution)
        .order_by(NetWorthSnapshot.taken_at)
    )
    return [(t, total) for t, total in result]


async def test_a_year_of_five_minute_snapshots(client: httpx.AsyncClient, settings: Settings) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    start = now - timedelta(seconds=YEAR - STEP)
    count = YEAR // STEP
    engine = create_engine(settings, process="test")
    maker = create_session_maker(engine)
    try:
        async with transaction(maker) as session:
            await session.execute(FILL, {"start": start, "count": count})

        # Before retention the whole raw year is served, bounded to ~1000 points.
        raw_year = await _history(client, start, now)
        assert len(raw_year["points"]) <= 1000
        assert Decimal(raw_year["points"][-1]["total"]) == count - 1

        retention = Retention(raw_days=7, hourly_days=90, daily_days=0)
        async with transaction(maker) as session:
            counts = await apply_retention(session, retention, now)
        async with transaction(maker) as session:
            again = await apply_retention(session, retention, now)
        assert again == counts, "retention is idempotent"

        raw_cutoff = (now - timedelta(days=7)).replace(minute=0)
        hourly_cutoff = (now - timedelta(days=90)).replace(hour=0, minute=0)
        async with maker() as session:
            raw = await _rows(session, "raw")
            hourly = await _rows(session, "hourly")
            daily = await _rows(session, "daily")
            total_rows = await session.scalar(select(func.count()).select_from(NetWorthSnapshot))

        # raw: every sample from the raw cutoff on, untouched
        assert raw[0][0] == raw_cutoff
        assert raw[-1][0] == now
        assert len(raw) == index_at(raw_cutoff, now) + 1
        assert all(total == index_at(start, t) for t, total in raw)
        # hourly: one point per hour between the two cutoffs, holding the hour's last sample (minute 55)
        assert hourly[0][0] == hourly_cutoff
        assert hourly[-1][0] == raw_cutoff - timedelta(hours=1)
        assert len(hourly) == (raw_cutoff - hourly_cutoff) // timedelta(hours=1)
        for t, total in hourly:
            assert total == index_at(start, t + timedelta(minutes=55))
        # daily: one point per UTC day before that, holding the day's last sample (23:55)
        assert daily[-1][0] == hourly_cutoff - timedelta(days=1)
        for t, total in daily:
            assert t.hour == 0
            assert t.minute == 0
            last = min(t + timedelta(hours=23, minutes=55), start + timedelta(seconds=STEP * (count - 1)))
            assert total == index_at(start, last)
        assert total_rows == len(raw) + len(hourly) + len(daily) == counts["raw"] + counts["hourly"] + counts["daily"]
        assert total_rows < 4_500, "a year is a few thousand rows, not 105,000"

        year = await _history(client, start, now)
        assert len(year["points"]) <= 1000
        assert Decimal(year["points"][-1]["total"]) == count - 1, "the newest point is the latest sample"
        times = [p["t"] for p in year["points"]]
        assert times == sorted(times)
        assert len(set(times)) == len(times)
        week = await _history(client, now - timedelta(days=7), now, step="5m")
        assert len(week["points"]) <= 1000
        assert week["step_seconds"] >= STEP
        day = await _history(client, now - timedelta(days=1), now, step="5m")
        assert day["step_seconds"] == STEP
        assert len(day["points"]) == 289, "recent history keeps full resolution"
    finally:
        await engine.dispose()


async def _history(
    client: httpx.AsyncClient, start: datetime, end: datetime, step: str | None = None
) -> dict[str, Any]:
    params = {"start": start.isoformat(), "end": end.isoformat()} | ({"step": step} if step else {})
    response = await client.get("/v1/networth/history", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_fast_history_json_is_the_models_json() -> None:
    start = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    rows = [
        (start, Decimal("0")),
        (start + timedelta(hours=1), Decimal("1234.500000")),
        (start + timedelta(hours=2), Decimal("1E+3")),
        (start + timedelta(hours=3), Decimal("123456789012345678901234567890.123456789012345678")),
        (start.astimezone(timezone(timedelta(hours=2))), Decimal("-0.00")),
    ]
    series = HistorySeries(quote="EUR", start=start, end=start + timedelta(days=1), step_seconds=3600, rows=rows)
    assert json.loads(series.json()) == json.loads(series.model().model_dump_json())


async def test_retention_buckets_on_utc_whatever_the_session_time_zone(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Half-hour offset zone: a bucket taken in local time would put 10:50 and 11:20 UTC in one hour."""
    day = (datetime.now(UTC) - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    samples = {day + timedelta(hours=10, minutes=10): 1, day + timedelta(hours=10, minutes=50): 2,
               day + timedelta(hours=11, minutes=20): 3}  # fmt: skip
    engine = create_engine(settings, process="test")
    maker = create_session_maker(engine)
    try:
        async with transaction(maker) as session:
            for t, total in samples.items():
                session.add(NetWorthSnapshot(taken_at=t, quote="USD", total=Decimal(total), resolution="raw"))
        async with transaction(maker) as session:
            await session.execute(text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
            counts = await apply_retention(
                session, Retention(raw_days=7, hourly_days=90, daily_days=0), datetime.now(UTC)
            )
        assert counts == {"raw": 0, "hourly": 2, "daily": 0}
        async with maker() as session:
            hourly = await _rows(session, "hourly")
        assert hourly == [(day + timedelta(hours=10), Decimal(2)), (day + timedelta(hours=11), Decimal(3))]
    finally:
        await engine.dispose()
