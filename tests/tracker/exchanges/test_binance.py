"""Binance against the sandbox venue: read-only proven by apiRestrictions, every wallet read, every fault."""

from __future__ import annotations

import pytest

from tallyhold.egress.client import EgressClient
from tallyhold_sandbox import Sandbox
from tests.tracker.exchanges.conftest import Venue, totals

WALLETS = {
    "spot": {"BTC": {"free": "0.5", "locked": "0.1"}, "USDT": "100", "LDO": "3"},
    "funding": {"USDT": "5"},
    "earn_flexible": {"BTC": "0.2", "USDC": "40"},
    "earn_locked": {"ETH": "1"},
    "staking": {"DOT": "10"},
    "margin": {"BTC": "0.01"},
    "usdm": {"USDT": "50"},
    "coinm": {"BTC": "0.3"},
}


@pytest.fixture
def binance(sandbox: Sandbox, egress: EgressClient) -> Venue:
    return Venue(sandbox, egress, "binance")


async def test_a_read_only_key_is_accepted(binance: Venue) -> None:
    reply = await binance.verify(binance.key())
    report = reply.report
    assert report.permissions() == {
        "read": True,
        "trade": False,
        "withdraw": False,
        "transfer": False,
        "verified_by": "exchange",
    }
    assert report.ip_restricted is False
    assert report.key_created_at is not None


async def test_ip_restriction_is_reported(binance: Venue) -> None:
    reply = await binance.verify(binance.key(ip_allowlist=["127.0.0.1"]))
    assert reply.report.ip_restricted is True


@pytest.mark.parametrize(
    ("permission", "switch_off", "category"),
    [
        ("trade", ["Enable Spot & Margin Trading", "Enable FIX API Trading"], "trade"),
        ("margin", ["Enable Margin Loan, Repay & Transfer"], "trade"),
        ("futures", ["Enable Futures", "Enable Portfolio Margin Trading"], "trade"),
        ("options", ["Enable European Options"], "trade"),
        ("withdraw", ["Enable Withdrawals"], "withdraw"),
        ("transfer", ["Enable Internal Transfer", "Permits Universal Transfer"], "transfer"),
        ("unknown", ["enableCopyTradingLeadTrader"], None),
    ],
)
async def test_each_write_permission_is_refused_in_binance_words(
    binance: Venue, permission: str, switch_off: list[str], category: str | None
) -> None:
    key = binance.key(("read", permission))
    error = await binance.refusal(key)
    assert error.code == "write_permissions"
    assert sorted(error.failure.details["switch_off"]) == sorted(switch_off)
    if category:
        assert error.failure.details["permissions"][category] is True
    # the refusal came from the permission endpoint alone: no balance was read
    assert binance.paths(key) == ["GET /sapi/v1/account/apiRestrictions"]


async def test_a_key_without_read_is_refused(binance: Venue) -> None:
    error = await binance.refusal(binance.key(()))
    assert error.code == "missing_read_permission"
    assert error.failure.details["switch_on"] == ["Enable Reading"]


async def test_an_unknown_key_is_invalid(binance: Venue) -> None:
    key = binance.key()
    binance.control.remove_key(key.api_key.get_secret_value())
    error = await binance.refusal(key)
    assert error.code == "invalid_credentials"
    assert not error.transient


@pytest.mark.parametrize(
    ("fault", "spec", "code"),
    [
        ("server_error", {}, "exchange_unavailable"),
        ("unavailable", {}, "exchange_unavailable"),
        ("malformed_json", {}, "malformed_response"),
        ("html", {}, "exchange_unavailable"),
        ("drop_fields", {"fields": ["enableReading"]}, "malformed_response"),
        ("set_fields", {"fields": {"enableWithdrawals": "false"}}, "malformed_response"),
        ("set_fields", {"fields": {"enableWithdrawals": None}}, "malformed_response"),
        ("ban", {"retry_after": 300}, "banned"),
        ("rate_limit", {"retry_after": 60}, "rate_limited"),
    ],
)
async def test_an_error_on_the_permission_call_refuses_the_key(
    binance: Venue, fault: str, spec: dict[str, object], code: str
) -> None:
    key = binance.key()
    binance.control.add_fault(
        fault, path="/sapi/v1/account/apiRestrictions", api_key=key.api_key.get_secret_value(), **spec
    )
    error = await binance.refusal(key)
    assert error.code == code
    assert error.transient


async def test_every_wallet_is_read_with_canonical_codes(binance: Venue) -> None:
    key = binance.key(balances=WALLETS)
    reply = await binance.balances(key)
    assert totals(reply) == {
        ("BTC", "spot"): "0.6",
        ("USDT", "spot"): "100",
        ("LDO", "spot"): "3",  # Lido DAO stays itself
        ("USDT", "funding"): "5",
        ("BTC", "earn"): "0.2",  # the LDBTC spot token and the flexible position are one holding
        ("USDC", "earn"): "40",
        ("ETH", "earn"): "1",
        ("DOT", "staked"): "10",
        ("BTC", "margin"): "0.01",
        ("USDT", "futures"): "50",
        ("BTC", "futures"): "0.3",
    }
    assert reply.permissions is not None
    assert reply.permissions["trade"] is False
    assert set(reply.facts["wallets"].values()) == {"ok"}
    assert reply.facts["ip_restricted"] is False


async def test_without_a_permission_check_the_endpoint_is_not_called(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    reply = await binance.balances(key, check=False)
    assert reply.permissions is None
    assert "GET /sapi/v1/account/apiRestrictions" not in binance.paths(key)


async def test_a_key_that_gained_a_write_right_is_refused_before_any_balance(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    await binance.balances(key)
    binance.control.set_permissions(key.api_key.get_secret_value(), ["read", "withdraw"])
    since = binance.control.last_seq()
    error = await binance.refusal(key, op="balances")
    assert error.code == "write_permissions"
    assert error.failure.details["switch_off"] == ["Enable Withdrawals"]
    assert binance.paths(key, since) == ["GET /sapi/v1/account/apiRestrictions"]


async def test_a_short_retry_after_is_waited_out(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    binance.control.add_fault(
        "rate_limit", path="/api/v3/account", api_key=key.api_key.get_secret_value(), times=1, retry_after=1
    )
    reply = await binance.balances(key)
    assert totals(reply)[("BTC", "spot")] == "1"
    assert binance.paths(key).count("GET /api/v3/account") == 2


async def test_a_long_retry_after_goes_back_to_the_engine(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    binance.control.add_fault(
        "rate_limit", path="/api/v3/account", api_key=key.api_key.get_secret_value(), retry_after=60
    )
    error = await binance.refusal(key, op="balances")
    assert error.code == "rate_limited"
    assert error.transient
    assert error.failure.retry_after == 60
    assert binance.paths(key).count("GET /api/v3/account") == 1


async def test_a_ban_reports_its_duration(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    binance.control.add_fault("ban", path="/api/v3/account", api_key=key.api_key.get_secret_value(), retry_after=7200)
    error = await binance.refusal(key, op="balances")
    assert error.code == "banned"
    assert error.failure.retry_after == 7200
    assert binance.paths(key).count("GET /api/v3/account") == 1  # never retried into a longer ban


async def test_server_errors_are_retried_with_a_bound(binance: Venue) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}})
    secret_key = key.api_key.get_secret_value()
    binance.control.add_fault("server_error", path="/api/v3/account", api_key=secret_key, times=2)
    reply = await binance.balances(key)
    assert totals(reply)[("BTC", "spot")] == "1"
    binance.control.add_fault("server_error", path="/api/v3/account", api_key=secret_key, status=502)
    since = binance.control.last_seq()
    error = await binance.refusal(key, op="balances")
    assert error.code == "exchange_unavailable"
    assert binance.paths(key, since).count("GET /api/v3/account") == 3


async def test_a_hanging_permission_call_refuses_the_key(sandbox: Sandbox, impatient: EgressClient) -> None:
    binance = Venue(sandbox, impatient, "binance")
    key = binance.key()
    binance.control.add_fault("hang", path="/sapi/v1/account", api_key=key.api_key.get_secret_value(), seconds=30)
    error = await binance.refusal(key)
    assert error.code == "timeout"
    assert error.transient


async def test_a_hanging_wallet_times_out(sandbox: Sandbox, impatient: EgressClient) -> None:
    binance = Venue(sandbox, impatient, "binance")
    key = binance.key(balances={"spot": {"BTC": "1"}})
    binance.control.add_fault("hang", path="/fapi/v2/balance", api_key=key.api_key.get_secret_value(), seconds=30)
    error = await binance.refusal(key, op="balances")
    assert error.code == "timeout"
    assert error.transient


@pytest.mark.parametrize(
    ("fault", "spec", "field"),
    [
        ("set_fields", {"fields": {"free": "NaN"}}, "account.balances[0].free"),
        ("set_fields", {"fields": {"free": 1e308}}, "account.balances[0].free"),
        ("set_fields", {"fields": {"free": "-5"}}, "account.balances[0].free"),
        ("set_fields", {"fields": {"free": "lots"}}, "account.balances[0].free"),
        ("set_fields", {"fields": {"free": True}}, "account.balances[0].free"),
        ("drop_fields", {"fields": ["free"]}, "account.balances[0].free"),  # missing: named like unreadable
        ("drop_fields", {"fields": ["asset"]}, "account.balances[0].asset"),
        ("set_fields", {"fields": {"balances": {"BTC": "1"}}}, "account.balances"),
        ("malformed_json", {}, "account"),  # the answer as a whole is not an object
    ],
)
async def test_a_malformed_wallet_fails_the_sync_instead_of_a_wrong_total(
    binance: Venue, fault: str, spec: dict[str, object], field: str
) -> None:
    key = binance.key(balances={"spot": {"BTC": "1"}, "funding": {"USDT": "2"}})
    binance.control.add_fault(fault, path="/api/v3/account", api_key=key.api_key.get_secret_value(), **spec)
    error = await binance.refusal(key, op="balances")
    assert error.code == "malformed_response"
    assert error.transient
    assert error.failure.details.get("field") == field  # our own path to the field, never the value


@pytest.mark.parametrize(
    "path", ["/sapi/v1/margin/account", "/fapi/v2/balance", "/sapi/v1/simple-earn/locked/position"]
)
async def test_any_wallet_that_fails_fails_the_whole_read(binance: Venue, path: str) -> None:
    key = binance.key(
        balances={"spot": {"BTC": "1"}, "margin": {"BTC": "1"}, "usdm": {"USDT": "1"}, "earn_locked": {"ETH": "1"}}
    )
    binance.control.add_fault(
        "set_fields",
        path=path,
        api_key=key.api_key.get_secret_value(),
        fields={"netAsset": "x", "balance": "x", "amount": "x"},
    )
    error = await binance.refusal(key, op="balances")
    assert error.code == "malformed_response"
