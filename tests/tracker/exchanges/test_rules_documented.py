"""Permission rules of the venues without a sandbox server, on their documented answers: edges that the
end-to-end tests (test_documented_venues.py) do not reach."""

from __future__ import annotations

from typing import Any

import pytest

from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.venues import bitget, gate, gemini, htx, kucoin, mexc
from tests.tracker.exchanges.documented import GATE_KEYS, HTX_KEY, MEXC_KEY


def kucoin_answer(permission: Any, **data: Any) -> dict[str, Any]:
    return {"code": "200000", "data": {"uid": 1, "apiKey": "k", "permission": permission, "ipWhitelist": "", **data}}


@pytest.mark.parametrize(
    ("permission", "switch_off"),
    [
        ("General", []),
        ("General, Spot", ["Spot Trading"]),
        ("General,Margin,Futures", ["Margin Trading", "Futures Trading"]),
        ("General,InnerTransfer", ["Inner Transfer"]),
        ("General,Earn", ["Earn"]),
        ("General,NewThing", ["NewThing"]),
    ],
)
def test_kucoin(permission: str, switch_off: list[str]) -> None:
    assert kucoin.permission_rule(kucoin_answer(permission)).switch_off == switch_off


def test_kucoin_needs_general() -> None:
    assert kucoin.permission_rule(kucoin_answer("Spot")).switch_on == ["General"]
    with pytest.raises(Malformed):
        kucoin.permission_rule(kucoin_answer(["General"]))


@pytest.mark.parametrize(
    ("authorities", "switch_off"),
    [
        (["stor", "coor", "cpor", "wtor", "smor"], []),
        (["readonly"], []),
        (["stor", "wwow"], ["wwow (withdrawals)"]),
        (["stow", "coow"], ["stow (spot trading)", "coow (futures orders)"]),
        (["stor", "zzzw"], ["zzzw"]),
    ],
)
def test_bitget_classic(authorities: list[str], switch_off: list[str]) -> None:
    answer = {"code": "00000", "data": {"authorities": authorities, "ips": ""}}
    assert bitget.classic_rule(answer).switch_off == switch_off


def test_bitget_unified_documented_example_is_refused() -> None:
    # docs "Get Account Info" (UTA): a read-and-write key with trade and withdraw rights
    data = {
        "uid": "123456789",
        "ips": "192.168.1.1,192.168.1.2",
        "permType": "read-and-write",
        "permissions": ["uta_mgt", "uta_trade", "withdraw", "copy_futures_position"],
        "regisTime": "1704067200000",
    }
    answer = {"code": "00000", "data": data}
    report = bitget.unified_rule(answer)
    assert report.switch_off == [
        "permType read-and-write (choose read-only)",
        "uta_mgt",
        "uta_trade",
        "withdraw",
        "copy_futures_position",
    ]
    assert report.ip_restricted is True
    read_only = {"code": "00000", "data": {"permType": "read-only", "permissions": [], "ips": ""}}
    assert bitget.unified_rule(read_only).accepted


@pytest.mark.parametrize("permission", ["uta_mgt", "copy_futures_order", "withdraw_address", "p2p", "new_thing"])
def test_bitget_unified_refuses_undocumented_permissions(permission: str) -> None:
    """Fail closed: Bitget documents no read-only values for `permissions`, so any entry is refused."""
    answer = {"code": "00000", "data": {"permType": "read-only", "permissions": [permission], "ips": ""}}
    assert not bitget.unified_rule(answer).accepted


def test_bitget_unified_without_permissions_is_malformed() -> None:
    with pytest.raises(Malformed):
        bitget.unified_rule({"code": "00000", "data": {"permType": "read-only", "ips": ""}})


def test_htx_entry_about_another_key_proves_nothing() -> None:
    answer = {"code": 200, "data": [{"accessKey": "someone-else", "permission": "readOnly", "status": "normal"}]}
    with pytest.raises(Malformed):
        htx.permission_rule(answer, "my-key")


@pytest.mark.parametrize(
    ("roles", "switch_off"),
    [
        ({"isAuditor": True, "isTrader": False, "isFundManager": False}, []),
        ({"isAuditor": True, "isTrader": False, "isFundManager": False, "isAdministrator": True}, ["Administrator"]),
        ({"isAuditor": True, "isTrader": False, "isFundManager": False, "isCustodian": True}, ["isCustodian"]),
        ({"isAuditor": False, "isTrader": True, "isFundManager": False}, ["Trader"]),
    ],
)
def test_gemini(roles: dict[str, Any], switch_off: list[str]) -> None:
    assert gemini.permission_rule(roles).switch_off == switch_off


def test_gemini_malformed_and_missing_auditor() -> None:
    assert gemini.permission_rule({"isAuditor": False, "isTrader": False, "isFundManager": False}).switch_on == [
        "Auditor"
    ]
    with pytest.raises(Malformed):
        gemini.permission_rule({"isAuditor": True, "isTrader": False})
    with pytest.raises(Malformed):
        gemini.permission_rule({"isAuditor": "true", "isTrader": False, "isFundManager": False})


def test_gate() -> None:
    unknown = {**GATE_KEYS, "perms": [{"name": "spot", "read_only": True}, {"name": "crossx", "read_only": False}]}
    assert gate.permission_rule(unknown).switch_off == ["crossx: Read and Write"]
    assert gate.permission_rule({**GATE_KEYS, "perms": []}).switch_on == ["Read Only permissions"]
    with pytest.raises(Malformed):
        gate.permission_rule({**GATE_KEYS, "perms": [{"name": "spot", "read_only": "true"}]})
    restricted = {**GATE_KEYS, "ip_whitelist": ["1.2.3.4"], "perms": [{"name": "spot", "read_only": True}]}
    assert gate.permission_rule(restricted).ip_restricted is True


def test_htx_picks_the_calling_key_and_needs_status_normal() -> None:
    other = {**HTX_KEY, "accessKey": "someone-else", "permission": "readOnly,trade"}
    mine = {**HTX_KEY, "accessKey": "mine", "permission": "readOnly", "ipAddresses": "1.2.3.4"}
    report = htx.permission_rule({"code": 200, "data": [other, mine]}, "mine")
    assert report.accepted
    assert report.ip_restricted is True
    assert report.key_expires_at is not None
    expired = {**mine, "status": "expired"}
    assert not htx.permission_rule({"code": 200, "data": [expired]}, "mine").accepted
    with pytest.raises(Malformed):
        htx.permission_rule({"code": 200, "data": [other, {**other, "accessKey": "third"}]}, "mine")


@pytest.mark.parametrize(
    ("permissions", "switch_off"),
    [
        ("SPOT_ACCOUNT_READ", []),
        ("SPOT_ACCOUNT_READ,SPOT_TRANSFER_WRITE", ["SPOT_TRANSFER_WRITE"]),
        ("SPOT_ACCOUNT_READ,SPOT_WITHDRAW_WRITE", ["SPOT_WITHDRAW_WRITE"]),
        ("SPOT_ACCOUNT_READ,CONTRACT_DEAL_WRITE", ["CONTRACT_DEAL_WRITE"]),
    ],
)
def test_mexc(permissions: str, switch_off: list[str]) -> None:
    report = mexc.permission_rule({**MEXC_KEY, "permissions": permissions})
    assert report.switch_off == switch_off


def test_mexc_categories_and_validity() -> None:
    report = mexc.permission_rule({**MEXC_KEY, "permissions": "SPOT_ACCOUNT_READ,SPOT_WITHDRAW_WRITE"})
    assert report.withdraw is True
    assert report.key_expires_at is not None
    assert not mexc.permission_rule({**MEXC_KEY, "permissions": "SPOT_ACCOUNT_READ", "status": "EXPIRED"}).accepted
    assert mexc.permission_rule({**MEXC_KEY, "permissions": "CONTRACT_ACCOUNT_READ"}).switch_on == ["SPOT_ACCOUNT_READ"]
