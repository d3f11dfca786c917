"""Pure breaker rules: failures classified by code and flag, holds from Retry-After, venue breakers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tallyhold.breakers.policy import Breakers, BreakerState, Failure, Verdict

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("failure", "verdict"),
    [
        (Failure("timeout", transient=True), Verdict.retry),
        (Failure("rate_limited", transient=True, retry_after=7), Verdict.retry),
        (Failure("invalid_credentials", transient=False), Verdict.error),
        (Failure("write_permissions", transient=False), Verdict.quarantine),
        (Failure("write_permissions", transient=True), Verdict.quarantine),
        (Failure("vault_unavailable", transient=True), Verdict.pause),
    ],
)
def test_failures_are_classified_by_code_and_flag(failure: Failure, verdict: Verdict) -> None:
    assert failure.verdict is verdict


def test_holds_come_from_retry_after_with_defaults() -> None:
    assert Failure("rate_limited", True, retry_after=7).hold_seconds() == 7
    assert Failure("banned", True, retry_after=7200).hold_seconds() == 7200
    assert Failure("banned", True).hold_seconds() == 600
    assert Failure("rate_limited", True, retry_after=0).hold_seconds() == 60
    assert Failure("timeout", True, retry_after=30).hold_seconds() is None


def test_breaker_opens_for_the_whole_ban_then_allows_one_probe() -> None:
    breakers = Breakers(threshold=5, cooldown=timedelta(seconds=60))
    until = breakers.failure("binance", Failure("banned", True, retry_after=120), T0)
    assert until == T0 + timedelta(seconds=120)
    for second in (0, 1, 60, 119):
        assert not breakers.acquire("binance", T0 + timedelta(seconds=second))
    assert breakers.acquire("kraken", T0), "other venues are unaffected"
    after = T0 + timedelta(seconds=120)
    assert breakers.state("binance", after) is BreakerState.half_open
    assert breakers.acquire("binance", after), "one probe"
    assert not breakers.acquire("binance", after), "only one"
    assert breakers.success("binance", after)
    assert breakers.state("binance", after) is BreakerState.closed
    assert breakers.acquire("binance", after)


def test_failed_probe_reopens_and_a_429_never_shortens_a_ban() -> None:
    breakers = Breakers(threshold=5, cooldown=timedelta(seconds=60))
    breakers.failure("binance", Failure("banned", True, retry_after=600), T0)
    breakers.failure("binance", Failure("rate_limited", True, retry_after=5), T0 + timedelta(seconds=1))
    assert breakers.open_until("binance") == T0 + timedelta(seconds=600)
    probe_time = T0 + timedelta(seconds=601)
    assert breakers.acquire("binance", probe_time)
    reopened = breakers.failure("binance", Failure("exchange_unavailable", True), probe_time)
    assert reopened == probe_time + timedelta(seconds=60)


def test_consecutive_venue_failures_open_the_breaker_but_account_errors_do_not() -> None:
    breakers = Breakers(threshold=3, cooldown=timedelta(seconds=60))
    for _ in range(10):
        assert breakers.failure("kraken", Failure("invalid_credentials", False), T0) is None
    assert breakers.failure("kraken", Failure("timeout", True), T0) is None
    assert breakers.failure("kraken", Failure("exchange_unavailable", True), T0) is None
    assert breakers.failure("kraken", Failure("malformed_response", True), T0) == T0 + timedelta(seconds=60)
    assert not breakers.acquire("kraken", T0 + timedelta(seconds=59))


def test_restored_breakers_apply_in_another_process() -> None:
    breakers = Breakers(threshold=3, cooldown=timedelta(seconds=60))
    breakers.restore("okx", T0 + timedelta(hours=2), "banned")
    assert not breakers.acquire("okx", T0 + timedelta(hours=1))
    assert breakers.reason("okx") == "banned"


def test_a_success_in_flight_never_cuts_a_hold_short() -> None:
    breakers = Breakers(threshold=3, cooldown=timedelta(seconds=60))
    breakers.failure("binance", Failure("rate_limited", True, retry_after=30), T0)
    assert not breakers.success("binance", T0 + timedelta(seconds=1)), "a call sent before the 429 came back fine"
    assert not breakers.acquire("binance", T0 + timedelta(seconds=29))
    breakers.failure("kraken", Failure("timeout", True), T0)
    breakers.failure("kraken", Failure("timeout", True), T0)
    breakers.failure("kraken", Failure("timeout", True), T0)
    assert breakers.success("kraken", T0 + timedelta(seconds=1)), "failure breakers close on a success"
