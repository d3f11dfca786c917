"""How egress failures of `exchange.verify` become the HTTP errors of the connection routes."""

import pytest

from tallyhold.egress.protocol import EgressError
from tallyhold.exchanges.verifier import refusal


def test_write_permissions_names_what_to_switch_off():
    error = refusal(
        "Binance",
        EgressError.of(
            "write_permissions",
            switch_off=["Enable Spot & Margin Trading", "Enable Withdrawals"],
            permissions={"read": True, "trade": True, "withdraw": True, "transfer": False, "verified_by": "exchange"},
        ),
    )
    assert error.status_code == 422
    body = error.body()["error"]
    assert body["code"] == "write_permissions"
    assert body["switch_off"] == ["Enable Spot & Margin Trading", "Enable Withdrawals"]
    assert "Enable Spot & Margin Trading; Enable Withdrawals" in body["message"]


@pytest.mark.parametrize(
    ("code", "status", "public"),
    [
        ("invalid_credentials", 422, "invalid_credentials"),
        ("permission_denied", 422, "invalid_credentials"),
        ("account_suspended", 422, "invalid_credentials"),
        ("missing_read_permission", 422, "missing_read_permission"),
        ("unsupported_exchange", 400, "unsupported_exchange"),
        ("timeout", 504, "exchange_unavailable"),
        ("egress_timeout", 504, "exchange_unavailable"),
        ("rate_limited", 502, "exchange_unavailable"),
        ("banned", 502, "exchange_unavailable"),
        ("exchange_unavailable", 502, "exchange_unavailable"),
        ("malformed_response", 502, "exchange_unavailable"),
        ("egress_worker_unavailable", 502, "exchange_unavailable"),
        ("forbidden_call", 502, "exchange_unavailable"),
        ("something_new", 502, "exchange_unavailable"),
    ],
)
def test_every_failure_refuses_the_key(code, status, public):
    error = refusal("Kraken", EgressError.of(code, transient=True, retry_after=7.0))
    assert error.status_code == status
    assert error.code == public


def test_retry_after_is_passed_on():
    error = refusal("Binance", EgressError.of("banned", transient=True, retry_after=120.0))
    assert error.body()["error"]["retry_after"] == 120.0
