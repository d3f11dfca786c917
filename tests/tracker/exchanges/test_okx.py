"""OKX's permission rule on the account/config answer (ccxt's okx.py comment, OKX's API docs)."""

from __future__ import annotations

from typing import Any

import pytest

from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.venues.okx import permission_rule

DOCUMENTED: dict[str, Any] = {
    "code": "0",
    "msg": "",
    "data": [
        {
            "uid": "44705892343619584",
            "mainUid": "44705892343619584",
            "acctLv": "2",
            "posMode": "long_short_mode",
            "autoLoan": False,
            "level": "Lv1",
            "levelTmp": "",
            "label": "v5 test",
            "perm": "read_only,withdraw,trade",
            "ip": "",
            "kycLv": "3",
        }
    ],
}


def config(**fields: Any) -> dict[str, Any]:
    return {**DOCUMENTED, "data": [{**DOCUMENTED["data"][0], **fields}]}


def test_the_documented_key_is_refused_in_okx_words() -> None:
    report = permission_rule(DOCUMENTED)
    assert report.switch_off == ["Withdraw", "Trade"]
    assert report.ip_restricted is False


@pytest.mark.parametrize("perm", ["read_only", " read_only ", "read_only,"])
def test_read_only_is_accepted(perm: str) -> None:
    report = permission_rule(config(perm=perm, ip="203.0.113.7"))
    assert report.accepted
    assert report.ip_restricted is True


@pytest.mark.parametrize(("perm", "words"), [("read_only,block_trade", ["block_trade"]), ("", [])])
def test_other_values_are_refused(perm: str, words: list[str]) -> None:
    report = permission_rule(config(perm=perm))
    assert not report.accepted
    assert report.switch_off == words


@pytest.mark.parametrize(
    "answer",
    [{"code": "0", "data": []}, {"code": "0", "data": [{}]}, config(perm=["read_only"]), {"data": "x"},
     {"code": "0", "data": [DOCUMENTED["data"][0], DOCUMENTED["data"][0]]}],
)  # fmt: skip
def test_malformed_answers(answer: Any) -> None:
    with pytest.raises(Malformed):
        permission_rule(answer)
