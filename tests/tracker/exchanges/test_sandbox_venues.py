"""Every sandbox venue other than Binance (test_binance.py goes deeper): the permission rule end to end, the
wording of each refusal, errors on the permission call, drift, and the faults of a balance read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from tallyhold.egress.client import EgressClient
from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.credentials import generate
from tests.tracker.exchanges.conftest import Venue, totals


@dataclass(frozen=True)
class Expect:
    permission_path: str  # the venue's permission endpoint (sandbox path)
    balance_path: str  # one balance endpoint, for faults
    amount_field: str  # a numeric field of that endpoint's answer
    refusals: dict[str, list[str]]  # neutral permission → what the customer must switch off, in order
    wallets: dict[str, dict[str, Any]]  # sandbox balances to plant
    expected: dict[tuple[str, str], str]  # what comes back: (asset, location) → amount
    passphrase: bool = False
    signed_amount: bool = False  # the amount field is an equity (may be negative: a debt, not malformed)
    extra: dict[str, Any] = field(default_factory=dict)


VENUES: dict[str, Expect] = {
    "kraken": Expect(
        permission_path="/0/private/GetApiKeyInfo",
        balance_path="/0/private/BalanceEx",
        amount_field="balance",
        refusals={
            "trade": ["Create & Modify Orders", "Cancel & Close Orders"],
            "margin": ["Create & Modify Orders"],
            "withdraw": ["Withdraw Funds"],
            "transfer": ["Deposit Funds", "Earn Funds"],
            "unknown": ["manage-custody"],
        },
        wallets={
            "spot": {"BTC": "0.5", "ETH": "2", "USD": "1000", "SOL": "3", "XBT.M": "0.1", "USD.HOLD": "7"},
            "staked": {"ETH": "1", "DOT": "10"},
            "rewards": {"USDC": "50"},
            "flexible": {"BTC": "0.05"},
            "bonded": {"SOL": "4"},
        },
        expected={
            ("BTC", "spot"): "0.5",
            ("BTC", "earn"): "0.15",  # XBT.M and XBT.F
            ("ETH", "spot"): "2",
            ("ETH", "staked"): "1",  # ETH2.S
            ("DOT", "staked"): "10",
            ("SOL", "spot"): "3",
            ("SOL", "staked"): "4",  # SOL.B
            ("USD", "spot"): "1000",
            ("USD", "hold"): "7",
            ("USDC", "earn"): "50",
        },
    ),
    "bybit": Expect(
        permission_path="/v5/user/query-api",
        balance_path="/v5/account/wallet-balance",
        amount_field="equity",
        signed_amount=True,
        refusals={
            "trade": ["Read-Write"],
            "margin": ["Read-Write"],
            "withdraw": ["Read-Write", "Withdrawal"],
            "transfer": ["Read-Write", "Account Transfer", "Subaccount Transfer"],
            "unknown": ["PayFi: PayFiTransfer"],
        },
        wallets={
            "unified": {"BTC": {"free": "0.4", "locked": "0.1"}, "USDT": "1000"},
            "fund": {"USDT": "20", "ETH": "1"},
            "earn_flexible": {"USDC": "100"},
            "earn_onchain": {"ETH": "2"},
        },
        expected={
            ("BTC", "unified"): "0.5",
            ("USDT", "unified"): "1000",
            ("USDT", "funding"): "20",
            ("ETH", "funding"): "1",
            ("USDC", "earn"): "100",
            ("ETH", "staked"): "2",
        },
    ),
    "okx": Expect(
        permission_path="/api/v5/account/config",
        balance_path="/api/v5/asset/balances",
        amount_field="bal",
        passphrase=True,
        refusals={
            "trade": ["Trade"],
            "margin": ["Trade"],
            "transfer": ["Trade"],
            "withdraw": ["Withdraw"],
            "unknown": ["block_trade"],
        },
        wallets={
            "trading": {"BTC": {"free": "0.3", "locked": "0.2"}, "USDT": "500"},
            "funding": {"USDT": "25", "ETH": "3"},
            "savings": {"USDC": "70"},
            "staking": {"DOT": "12", "SOL": "5"},
        },
        expected={
            ("BTC", "trading"): "0.5",
            ("USDT", "trading"): "500",
            ("USDT", "funding"): "25",
            ("ETH", "funding"): "3",
            ("USDC", "earn"): "70",
            ("DOT", "staked"): "12",
            ("SOL", "staked"): "5",
        },
    ),
    "coinbase": Expect(
        permission_path="/api/v3/brokerage/key_permissions",
        balance_path="/api/v3/brokerage/accounts",
        amount_field="value",
        refusals={
            "trade": ["Trade"],
            "futures": ["Trade"],
            "withdraw": ["Transfer"],
            "transfer": ["Transfer"],
            "unknown": ["can_stake"],
        },
        wallets={
            "spot": {"BTC": {"free": "0.5", "locked": "0.1"}, "USD": "1250.5", "ETH": "1"},
            "vault": {"ETH": "2"},
            "portfolio": {"SOL": "5"},
        },
        expected={
            ("BTC", "spot"): "0.6",
            ("USD", "spot"): "1250.5",
            ("ETH", "spot"): "1",
            ("ETH", "vault"): "2",  # ccxt's own fetch_balance leaves vaults out
            ("SOL", "spot"): "5",  # a second portfolio
        },
    ),
}


@pytest.fixture(params=sorted(VENUES))
def venue(request: pytest.FixtureRequest, sandbox: Sandbox, egress: EgressClient) -> tuple[Venue, Expect]:
    return Venue(sandbox, egress, request.param), VENUES[request.param]


def new_key(venue: Venue, expect: Expect, *permissions: str, **options: Any) -> Any:
    if expect.passphrase:
        options.setdefault("passphrase", "pass-" + venue.name)
    return venue.key(permissions or ("read",), **options)


async def test_a_read_only_key_is_accepted(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    report = (await v.verify(new_key(v, expect))).report
    assert report.accepted
    assert report.permissions() == {
        "read": True, "trade": False, "withdraw": False, "transfer": False, "verified_by": "exchange"
    }  # fmt: skip


async def test_each_write_permission_is_refused_in_the_venue_words(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    for permission, words in expect.refusals.items():
        error = await v.refusal(new_key(v, expect, "read", permission))
        assert error.code == "write_permissions", permission
        assert error.failure.details["switch_off"] == words, permission


async def test_a_key_without_read_is_refused(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    error = await v.refusal(v.key(("trade",), passphrase="pass-x") if expect.passphrase else v.key(("trade",)))
    assert error.code in {"write_permissions", "missing_read_permission"}


async def test_an_unknown_key_is_invalid(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    key = new_key(v, expect)
    v.control.remove_key(key.api_key.get_secret_value())
    error = await v.refusal(key)
    assert error.code == "invalid_credentials"


async def test_a_wrong_secret_is_invalid_credentials(venue: tuple[Venue, Expect]) -> None:
    # A mistyped secret is the customer's to fix, never a transient venue error to retry (Kraken's
    # "EAPI:Invalid signature" needs the adapter's own mapping: ccxt has none).
    v, expect = venue
    key = new_key(v, expect)
    stranger = generate(v.name).secret  # well-formed for the venue, but not this key's
    error = await v.refusal(key.model_copy(update={"api_secret": SecretStr(stranger)}))
    assert (error.code, error.transient) == ("invalid_credentials", False)


@pytest.mark.parametrize(
    ("fault", "code"), [("server_error", "exchange_unavailable"), ("malformed_json", "malformed_response")]
)
async def test_an_error_on_the_permission_call_refuses_the_key(
    venue: tuple[Venue, Expect], fault: str, code: str
) -> None:
    v, expect = venue
    key = new_key(v, expect)
    v.control.add_fault(fault, path=expect.permission_path, api_key=key.api_key.get_secret_value())
    assert (await v.refusal(key)).code == code


async def test_every_wallet_is_read_with_canonical_codes(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    reply = await v.balances(new_key(v, expect, balances=expect.wallets))
    assert totals(reply) == expect.expected
    assert reply.permissions is not None
    assert reply.permissions["verified_by"] == "exchange"


async def test_drift_to_a_write_right_is_refused_before_any_balance(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    key = new_key(v, expect, balances=expect.wallets)
    await v.balances(key)
    v.control.set_permissions(key.api_key.get_secret_value(), ["read", "withdraw"])
    since = v.control.last_seq()
    error = await v.refusal(key, op="balances")
    assert error.code == "write_permissions"
    assert v.paths(key, since) == [f"{'GET' if v.name != 'kraken' else 'POST'} {expect.permission_path}"]


BALANCE_FAULTS: list[tuple[str, dict[str, Any], str]] = [
    ("rate_limit", {"retry_after": 60}, "rate_limited"),
    ("server_error", {"status": 502}, "exchange_unavailable"),
    ("malformed_json", {}, "malformed_response"),
    ("set_fields", {"value": "NaN"}, "malformed_response"),
    ("set_fields", {"value": 1e308}, "malformed_response"),
    ("set_fields", {"value": "-5"}, "malformed_response"),
    ("set_fields", {"value": "lots"}, "malformed_response"),
    ("drop_fields", {}, "malformed_response"),
]


def balance_faults() -> list[Any]:
    cases = []
    for name, expect in sorted(VENUES.items()):
        for fault, spec, code in BALANCE_FAULTS:
            if expect.signed_amount and spec.get("value") == "-5":
                continue  # a negative equity is a debt: test_a_negative_equity_is_a_liability
            cases.append(pytest.param(name, fault, spec, code, id=f"{name}-{fault}-{spec.get('value', '')}"))
    return cases


@pytest.mark.parametrize(("name", "fault", "spec", "code"), balance_faults())
async def test_balance_faults(
    sandbox: Sandbox, egress: EgressClient, name: str, fault: str, spec: dict[str, Any], code: str
) -> None:
    v, expect = Venue(sandbox, egress, name), VENUES[name]
    key = new_key(v, expect, balances=expect.wallets)
    rule = dict(spec)
    if fault == "set_fields":
        rule = {"fields": {expect.amount_field: spec["value"]}}
    elif fault == "drop_fields":
        rule = {"fields": [expect.amount_field]}
    v.control.add_fault(fault, path=expect.balance_path, api_key=key.api_key.get_secret_value(), **rule)
    error = await v.refusal(key, op="balances")
    assert error.code == code
    assert error.transient


async def test_a_short_rate_limit_is_waited_out(venue: tuple[Venue, Expect]) -> None:
    v, expect = venue
    key = new_key(v, expect, balances=expect.wallets)
    v.control.add_fault(
        "rate_limit", path=expect.balance_path, api_key=key.api_key.get_secret_value(), times=1, retry_after=1
    )
    assert totals(await v.balances(key)) == expect.expected


async def test_a_negative_equity_is_a_liability(sandbox: Sandbox, egress: EgressClient) -> None:
    v, expect = Venue(sandbox, egress, "bybit"), VENUES["bybit"]
    key = new_key(v, expect, balances={"unified": {"USDT": "10"}})
    v.control.add_fault("set_fields", path=expect.balance_path, api_key=key.api_key.get_secret_value(),
                        fields={"equity": "-5"})  # fmt: skip
    reply = await v.balances(key)
    assert ("USDT", "unified") not in totals(reply)
    assert owed(reply) == {("USDT", "unified"): "5"}


def owed(reply: Any) -> dict[tuple[str, str], str]:
    return {(o.asset, o.location): format(o.amount.normalize(), "f") for o in reply.liabilities}


# A margin debt as each venue reports it (the sandbox follows ccxt's parsing): Binance cross margin `borrowed` +
# `interest` with a negative `netAsset`, OKX `liab` with a negative `eq`, Bybit `borrowAmount` with a negative
# `equity`. The adapters read the equity: what is owed net of what is held of the same asset.
BORROWING = {"binance": "margin", "okx": "trading", "bybit": "unified"}


@pytest.mark.parametrize("name", sorted(BORROWING))
async def test_a_margin_debt_is_reported_as_a_liability(sandbox: Sandbox, egress: EgressClient, name: str) -> None:
    wallet = BORROWING[name]
    v = Venue(sandbox, egress, name)
    passphrase = {"passphrase": "pass-" + name} if name == "okx" else {}
    debt = {"free": "100", "borrowed": "1000", "interest": "0.125"}
    key = v.key(("read",), balances={wallet: {"BTC": "0.5", "USDT": debt}}, **passphrase)
    reply = await v.balances(key)
    assert totals(reply) == {("BTC", wallet): "0.5"}
    assert owed(reply) == {("USDT", wallet): "900.125"}
    # Repaid: the next answer has no debt, and none is reported.
    v.control.set_balances(key.api_key.get_secret_value(), {wallet: {"BTC": "0.5", "USDT": "3"}})
    reply = await v.balances(key)
    assert owed(reply) == {}
    assert totals(reply) == {("BTC", wallet): "0.5", ("USDT", wallet): "3"}


# How each venue answers a ban (the sandbox follows their docs): Kraken "EGeneral:Temporary lockout" and OKX
# HTTP 418 are ccxt's DDoSProtection (banned); Bybit's IP limit "403 access too frequent" and Coinbase's
# Cloudflare 1015 page are ccxt's RateLimitExceeded (rate_limited). Either way the duration goes to the engine.
BAN_CODES = {"kraken": "banned", "okx": "banned", "bybit": "rate_limited", "coinbase": "rate_limited"}


@pytest.mark.parametrize("name", sorted(VENUES))
async def test_a_ban_reports_its_duration(sandbox: Sandbox, egress: EgressClient, name: str) -> None:
    v, expect = Venue(sandbox, egress, name), VENUES[name]
    key = new_key(v, expect, balances=expect.wallets)
    v.control.add_fault("ban", path=expect.balance_path, api_key=key.api_key.get_secret_value(), retry_after=900)
    since = v.control.last_seq()
    error = await v.refusal(key, op="balances")
    assert error.code == BAN_CODES[name]
    assert error.failure.retry_after == 900
    assert error.transient
    balance_calls = [p for p in v.paths(key, since) if p.endswith(expect.balance_path)]
    assert len(balance_calls) == 1  # never retried inside the worker: a ban is waited out by the engine


@pytest.mark.parametrize("name", sorted(VENUES))
async def test_a_hanging_venue_times_out(sandbox: Sandbox, impatient: EgressClient, name: str) -> None:
    v, expect = Venue(sandbox, impatient, name), VENUES[name]
    key = new_key(v, expect, balances=expect.wallets)
    v.control.add_fault("hang", path=expect.permission_path, api_key=key.api_key.get_secret_value(), seconds=30)
    error = await v.refusal(key)
    assert error.code == "timeout"
    assert error.transient
    v.control.clear_faults()
    v.control.add_fault("hang", path=expect.balance_path, api_key=key.api_key.get_secret_value(), seconds=30)
    error = await v.refusal(key, op="balances")
    assert error.code == "timeout"


@pytest.mark.parametrize("name", sorted(VENUES))
async def test_server_errors_are_retried_then_succeed(sandbox: Sandbox, egress: EgressClient, name: str) -> None:
    v, expect = Venue(sandbox, egress, name), VENUES[name]
    key = new_key(v, expect, balances=expect.wallets)
    v.control.add_fault("server_error", path=expect.balance_path, api_key=key.api_key.get_secret_value(), times=2)
    assert totals(await v.balances(key)) == expect.expected
