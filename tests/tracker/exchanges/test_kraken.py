"""Kraken specifics: the permission rule on the documented GetApiKeyInfo answer, and history from the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tallyhold.egress.client import EgressClient
from tallyhold.exchanges.parse import Malformed
from tallyhold.exchanges.schemas import LedgerReply, LedgerRequest
from tallyhold.exchanges.venues.kraken import ADAPTER, permission_rule
from tallyhold_sandbox import Sandbox
from tests.tracker.exchanges.conftest import Venue

# docs.kraken.com "Get API Key Info", the example answer.
DOCUMENTED: dict[str, Any] = {
    "error": [],
    "result": {
        "apiKeyName": "my-api-key",
        "apiKey": "4/SDr...",
        "nonce": "1772627060997",
        "nonceWindow": 0,
        "permissions": ["query-funds", "withdraw-funds", "query-open-trades", "modify-trades"],
        "iban": "AA88 N84G WOAK NMOI",
        "validUntil": "0",
        "queryFrom": "0",
        "queryTo": "0",
        "createdTime": "1772542900",
        "modifiedTime": "1772543095",
        "ipAllowlist": [],
        "lastUsed": "1772627061",
    },
}


def with_permissions(*names: str, **result: object) -> dict[str, object]:
    return {"error": [], "result": {**DOCUMENTED["result"], "permissions": list(names), **result}}


def test_the_documented_example_is_refused_in_kraken_words() -> None:
    report = permission_rule(DOCUMENTED)
    assert report.switch_off == ["Withdraw Funds", "Create & Modify Orders"]
    assert report.withdraw is True
    assert report.trade is True
    assert report.ip_restricted is False
    assert report.key_expires_at is None  # validUntil "0" = never


def test_read_only_strings_are_accepted_and_expiry_is_read() -> None:
    report = permission_rule(
        with_permissions("query-funds", "query-open-trades", "query-closed-trades", "query-ledger",
                         validUntil="1893456000", ipAllowlist=["203.0.113.0/24"])
    )  # fmt: skip
    assert report.accepted
    assert report.ip_restricted is True
    assert report.key_expires_at is not None
    assert report.key_expires_at.year == 2030


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("export-data", "Export Data"),
        ("access-websockets", "Access WebSockets API"),
        ("earn-funds", "Earn Funds"),
        ("deposit-funds", "Deposit Funds"),
        ("cancel-trades", "Cancel & Close Orders"),
        ("query-futures", "query-futures"),
    ],
)
def test_everything_beyond_reading_is_refused(name: str, words: str) -> None:
    assert permission_rule(with_permissions("query-funds", name)).switch_off == [words]


def test_query_funds_is_required() -> None:
    report = permission_rule(with_permissions("query-ledger"))
    assert report.switch_on == ["Query Funds"]


@pytest.mark.parametrize(
    "answer",
    [{"error": [], "result": {}}, {"error": [], "result": {"permissions": "query-funds"}},
     {"error": [], "result": {"permissions": [1]}}, {"result": None}, []],
)  # fmt: skip
def test_malformed_answers(answer: object) -> None:
    with pytest.raises(Malformed):
        permission_rule(answer)


def test_the_adapter_never_declares_deposit_or_withdraw_status() -> None:
    # A read-only key cannot call them (they need Deposit/Withdraw Funds): history comes from the ledger.
    assert not {m for m in ADAPTER.methods if "Deposit" in m or "Withdraw" in m}
    assert "privatePostLedgers" in ADAPTER.methods


async def test_history_comes_from_the_ledger(sandbox: Sandbox, egress: EgressClient) -> None:
    kraken = Venue(sandbox, egress, "kraken")
    key = kraken.key(balances={"spot": {"BTC": "0.5", "ETH": "2"}, "staked": {"DOT": "10"}})
    reply = await egress.call("exchange.ledger", LedgerRequest(exchange="kraken", key=key), LedgerReply)
    moves = {(e.asset, e.location, e.kind): e.amount for e in reply.entries}
    assert moves == {
        ("BTC", "spot", "deposit"): Decimal("0.5"),
        ("ETH", "spot", "deposit"): Decimal("2"),
        ("DOT", "staked", "transfer"): Decimal("10"),
    }
    assert all(e.time is not None for e in reply.entries)
    assert kraken.paths(key) == ["POST /0/private/Ledgers"]


async def test_the_ledger_is_paged(sandbox: Sandbox, egress: EgressClient) -> None:
    kraken = Venue(sandbox, egress, "kraken")
    ledger = [{"asset": "XXBT", "amount": "0.001", "type": "deposit"} for _ in range(120)]
    key = kraken.key(ledger=ledger)
    reply = await egress.call("exchange.ledger", LedgerRequest(exchange="kraken", key=key), LedgerReply)
    assert len(reply.entries) == 120
    assert len({e.id for e in reply.entries}) == 120
    assert kraken.paths(key) == ["POST /0/private/Ledgers"] * 3
