"""Small pure parts: the re-check cadence, Retry-After parsing, the call policy, URL overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.errors import MAX_RETRY_AFTER_SECONDS, retry_after_seconds
from tallyhold.exchanges.registry import venue_info
from tallyhold.exchanges.session import CallPolicy, point_at
from tallyhold.exchanges.sync import permissions_due
from tallyhold.models import Connection
from tests.fixtures.instance import offline_settings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("venue", "cadence", "checked_ago", "due"),
    [
        ("binance", 0, None, True),
        ("binance", 0, timedelta(seconds=1), True),  # default: before every sync
        ("binance", 3600, timedelta(minutes=30), False),
        ("binance", 3600, timedelta(hours=1), True),
        ("binance", 86_400, timedelta(hours=23), False),
        ("bitvavo", 0, timedelta(hours=23), False),  # probes run at most daily
        ("bitvavo", 0, timedelta(days=1), True),
        ("bitvavo", 0, None, True),
    ],
)
def test_permission_recheck_cadence(venue: str, cadence: int, checked_ago: timedelta | None, due: bool) -> None:
    connection = Connection(kind="exchange", label="x", exchange=venue)
    connection.permissions_checked_at = None if checked_ago is None else NOW - checked_ago
    info = venue_info(venue)
    assert info is not None
    assert permissions_due(connection, info, offline_settings(EXCHANGE_PERMISSION_CHECK_SECONDS=cadence), NOW) is due


def test_the_cadence_is_at_most_daily() -> None:
    with pytest.raises(ValueError, match="EXCHANGE_PERMISSION_CHECK_SECONDS"):
        offline_settings(EXCHANGE_PERMISSION_CHECK_SECONDS=86_401)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),  # in the past: no wait
        ("-5", 0.0),
        ("999999999", MAX_RETRY_AFTER_SECONDS),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds


def test_call_policy_tuning() -> None:
    default = CallPolicy.from_config(EgressConfig(customer_id="t_00"))
    assert (default.attempts, default.rate_limit, default.inline_retry_after) == (3, True, 3.0)
    tuned = CallPolicy.from_config(
        EgressConfig(customer_id="t_00", options={"exchanges": {"attempts": 0, "timeout": "2.5", "rate_limit": False}})
    )
    assert (tuned.attempts, tuned.timeout, tuned.rate_limit) == (1, 2.5, False)
    for attempt in range(6):
        assert 0 <= default.backoff(attempt) <= default.backoff_cap


def test_overrides_replace_scheme_and_host_and_keep_paths() -> None:
    urls = {
        "sapi": "https://api.binance.com/sapi/v1",
        "private": {"spot": "https://api.{hostname}/api/v4", "futures": "https://fx.example.com"},
        "doc": 5,
    }
    assert point_at(urls, "http://127.0.0.1:9000/") == {
        "sapi": "http://127.0.0.1:9000/sapi/v1",
        "private": {"spot": "http://127.0.0.1:9000/api/v4", "futures": "http://127.0.0.1:9000"},
        "doc": 5,
    }
