"""Binance's permission rule on the documented answer of GET /sapi/v1/account/apiRestrictions."""

import pytest

from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.venues.binance import WRITE_FLAGS, permission_rule

# developers.binance.com "Get API Key Permission (USER_DATA)", read-only variant.
DOCUMENTED = {
    "ipRestrict": False,
    "createTime": 1698645219000,
    "enableReading": True,
    "enableSpotAndMarginTrading": False,
    "enableMargin": False,
    "enableFutures": False,
    "enablePortfolioMarginTrading": False,
    "enableVanillaOptions": False,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "permitsUniversalTransfer": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": True,
    "tradingAuthorityExpirationTime": 1628985600000,
}


def test_read_only_key_is_accepted():
    report = permission_rule(DOCUMENTED)
    assert report.accepted
    assert report.permissions() == {
        "read": True,
        "trade": False,
        "withdraw": False,
        "transfer": False,
        "verified_by": "exchange",
    }
    assert report.ip_restricted is False
    assert report.key_created_at is not None
    assert report.key_created_at.year == 2023


@pytest.mark.parametrize(("flag", "category", "words"), [(f, c, w) for f, (c, w) in WRITE_FLAGS.items()])
def test_each_write_flag_is_refused_in_binance_words(flag, category, words):
    report = permission_rule({**DOCUMENTED, flag: True})
    assert not report.accepted
    assert report.switch_off == [words]
    if category != "unknown":
        assert report.permissions()[category] is True


def test_the_wording_is_binances():
    report = permission_rule({**DOCUMENTED, "enableSpotAndMarginTrading": True, "enableWithdrawals": True})
    assert report.switch_off == ["Enable Spot & Margin Trading", "Enable Withdrawals"]


def test_an_unknown_flag_that_is_true_is_refused_by_name():
    report = permission_rule({**DOCUMENTED, "enableCopyTrading": True})
    assert report.switch_off == ["enableCopyTrading"]
    assert permission_rule({**DOCUMENTED, "enableCopyTrading": False}).accepted


def test_a_key_that_cannot_read_is_refused():
    report = permission_rule({**DOCUMENTED, "enableReading": False})
    assert not report.accepted
    assert report.switch_on == ["Enable Reading"]


@pytest.mark.parametrize("field", ["enableReading", "enableSpotAndMarginTrading", "enableWithdrawals"])
def test_a_missing_core_flag_is_malformed(field):
    answer = {k: v for k, v in DOCUMENTED.items() if k != field}
    with pytest.raises(Malformed):
        permission_rule(answer)


@pytest.mark.parametrize("value", ["false", 0, None, "true", 1])
def test_a_flag_that_is_not_a_boolean_is_malformed(value):
    with pytest.raises(Malformed):
        permission_rule({**DOCUMENTED, "enableWithdrawals": value})


@pytest.mark.parametrize("answer", [None, [], "ok", {"code": -2015, "msg": "Invalid API-key"}])
def test_anything_else_is_malformed(answer):
    with pytest.raises(Malformed):
        permission_rule(answer)


def test_a_true_boolean_outside_the_flag_prefixes_is_refused():
    """`canTransfer: true` is not an `enable*` flag, but it may be a right: it is refused, not ignored."""
    report = permission_rule({**DOCUMENTED, "canTransfer": True})
    assert not report.accepted
    assert "canTransfer" in report.switch_off
    assert permission_rule({**DOCUMENTED, "ipRestrict": True}).accepted


def test_coinbase_and_gemini_refuse_unknown_true_booleans():
    from tallyhold.exchanges.venues import coinbase, gemini

    base = {"can_view": True, "can_trade": False, "can_transfer": False}
    assert coinbase.permission_rule(base).accepted
    assert not coinbase.permission_rule({**base, "portfolio_withdraw_enabled": True}).accepted
    roles = {"isAuditor": True, "isTrader": False, "isFundManager": False}
    assert gemini.permission_rule(roles).accepted
    assert not gemini.permission_rule({**roles, "canWithdraw": True}).accepted
