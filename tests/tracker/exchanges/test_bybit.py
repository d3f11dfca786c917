"""Bybit's permission rule on the documented GET /v5/user/query-api answer (Bybit's API docs, "Get API Key
Information")."""

from __future__ import annotations

from typing import Any

import pytest

from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.venues.bybit import permission_rule

DOCUMENTED: dict[str, Any] = {
    "retCode": 0,
    "retMsg": "",
    "result": {
        "id": "13770661",
        "note": "XXXX",
        "apiKey": "XXXX",
        "readOnly": 0,
        "secret": "",
        "permissions": {
            "ContractTrade": ["Order", "Position"],
            "Spot": ["SpotTrade"],
            "Wallet": ["AccountTransfer", "SubMemberTransfer", "Withdraw"],
            "Options": ["OptionsTrade"],
            "Derivatives": ["DerivativesTrade"],
            "Exchange": ["ExchangeHistory"],
            "Earn": ["Earn"],
            "CopyTrading": [],
            "BlockTrade": [],
            "NFT": [],
            "Affiliate": [],
            "FiatP2P": [],
            "FiatBybitPay": [],
            "FiatConvertBroker": [],
        },
        "ips": ["*"],
        "type": 1,
        "deadlineDay": 83,
        "expiredAt": "2023-05-15T03:21:05Z",
        "createdAt": "2022-10-16T02:24:40Z",
        "unified": 0,
        "uta": 0,
        "userID": 24600000,
    },
}


def answer(**result: Any) -> dict[str, Any]:
    return {**DOCUMENTED, "result": {**DOCUMENTED["result"], **result}}


def read_only_permissions() -> dict[str, list[str]]:
    return {**DOCUMENTED["result"]["permissions"], "Wallet": []}


def test_the_documented_read_write_key_is_refused_in_bybit_words() -> None:
    report = permission_rule(DOCUMENTED)
    assert report.switch_off == ["Read-Write", "Account Transfer", "Subaccount Transfer", "Withdrawal"]
    assert report.permissions()["withdraw"] is True
    assert report.ip_restricted is False  # "*" = not bound to an IP
    assert report.key_expires_at is not None
    assert report.key_expires_at.year == 2023


def test_a_read_only_key_is_accepted_even_with_trade_categories_listed() -> None:
    # A unified account's key lists DerivativesTrade by default; readOnly decides.
    report = permission_rule(answer(readOnly=1, permissions=read_only_permissions(), ips=["203.0.113.7"]))
    assert report.accepted
    assert report.ip_restricted is True


def test_withdrawal_on_a_read_only_key_is_still_refused() -> None:
    permissions = {**read_only_permissions(), "Wallet": ["Withdraw"]}
    assert permission_rule(answer(readOnly=1, permissions=permissions)).switch_off == ["Withdrawal"]


def test_an_unknown_category_that_grants_something_is_refused() -> None:
    permissions = {**read_only_permissions(), "PayFi": ["PayFiTransfer"], "Empty": []}
    assert permission_rule(answer(readOnly=1, permissions=permissions)).switch_off == ["PayFi: PayFiTransfer"]


@pytest.mark.parametrize("value", [2, "x", None, True, -1])
def test_read_only_must_be_0_or_1(value: Any) -> None:
    with pytest.raises(Malformed):
        permission_rule(answer(readOnly=value))


def test_missing_permissions_is_malformed() -> None:
    result = {k: v for k, v in DOCUMENTED["result"].items() if k != "permissions"}
    with pytest.raises(Malformed):
        permission_rule({"retCode": 0, "result": result})
