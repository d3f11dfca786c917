"""The venues without a sandbox server, on their documented answers (documented.py) served over HTTP to
unmodified ccxt: the permission rule end to end, every wallet read, and the probes of the unverifiable ones."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.exchanges.schemas import BalancesRequest, VerifyReply, VerifyRequest
from tallyhold.sources.models import SourceBalances
from tests.tracker.exchanges.canned import Canned
from tests.tracker.exchanges.conftest import FAST, totals
from tests.tracker.exchanges.documented import UNVERIFIABLE, VERIFIED, Documented


def client(canned: Canned, venue: str, **tuning: Any) -> EgressClient:
    options = {"exchanges": {**FAST, **tuning}}
    config = EgressConfig(customer_id="t_0e0e", exchange_api_overrides={venue: canned.url}, options=options)
    return EgressClient(config, mode="inprocess")


def key(venue: str) -> ExchangeKey:
    api_key = ("account-" if venue == "gemini" else "") + secrets.token_hex(12)
    return ExchangeKey(api_key=api_key, api_secret=secrets.token_hex(24), passphrase="pass-" + venue)


def serve(canned: Canned, answers: dict[tuple[str, str], Any], api_key: str = "") -> None:
    for (method, path), answer in answers.items():
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if isinstance(body, dict) and body.get("data") and isinstance(body["data"], list):
            body = {**body, "data": [_fill(row, api_key) for row in body["data"]]}
        canned.answer(method, path, body, status)


def _fill(row: Any, api_key: str) -> Any:
    return {k: (api_key if v == "{key}" else v) for k, v in row.items()} if isinstance(row, dict) else row


async def verify(canned: Canned, venue: str, wire: ExchangeKey, *, acknowledge: bool = False) -> VerifyReply:
    request = VerifyRequest(exchange=venue, key=wire, acknowledge_unverifiable=acknowledge)
    return await client(canned, venue).call("exchange.verify", request, VerifyReply)


async def balances(canned: Canned, venue: str, wire: ExchangeKey, *, check: bool) -> SourceBalances:
    request = BalancesRequest(exchange=venue, key=wire, check_permissions=check)
    return await client(canned, venue).call("exchange.balances", request, SourceBalances)


@pytest.mark.parametrize("venue", sorted(VERIFIED))
async def test_read_only_keys_are_accepted_and_every_wallet_read(canned: Canned, venue: str) -> None:
    documented: Documented = VERIFIED[venue]
    wire = key(venue)
    serve(canned, {**documented.read_only, **documented.balances}, wire.api_key.get_secret_value())
    report = (await verify(canned, venue, wire)).report
    assert report.accepted
    assert report.verified_by == "exchange"
    reply = await balances(canned, venue, wire, check=True)
    assert totals(reply) == documented.expected
    assert sorted(w for w, status in reply.facts["wallets"].items() if status == "not_opened") == sorted(
        documented.not_opened
    )


@pytest.mark.parametrize("venue", sorted(VERIFIED))
async def test_write_rights_are_refused_in_the_venue_words(canned: Canned, venue: str) -> None:
    documented = VERIFIED[venue]
    wire = key(venue)
    serve(canned, {**documented.write, **documented.balances}, wire.api_key.get_secret_value())
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, wire)
    assert caught.value.code == "write_permissions"
    assert caught.value.failure.details["switch_off"] == documented.switch_off
    # and on a sync the key is refused before any balance is read
    canned.seen.clear()
    with pytest.raises(EgressError) as again:
        await balances(canned, venue, wire, check=True)
    assert again.value.code == "write_permissions"
    assert not {p for p in canned.paths() if (p.split(" ", 1)[0], p.split(" ", 1)[1]) in documented.balances}


@pytest.mark.parametrize("venue", sorted(VERIFIED))
async def test_an_error_on_the_permission_call_refuses_the_key(canned: Canned, venue: str) -> None:
    documented = VERIFIED[venue]
    wire = key(venue)
    serve(canned, documented.balances)
    for method, path in documented.read_only:
        canned.answer(method, path, {"unexpected": True}, 500)
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, wire)
    assert caught.value.code in {"exchange_unavailable", "malformed_response"}


def test_the_probe_venues_are_the_unverifiable_ones() -> None:
    assert {v for v, a in ADAPTERS.items() if a.info.verification == "unverifiable"} == set(UNVERIFIABLE)
    assert len(ADAPTERS) == 15


@pytest.mark.parametrize("venue", sorted(UNVERIFIABLE))
async def test_unverifiable_venues_need_the_acknowledgement(canned: Canned, venue: str) -> None:
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, key(venue))
    assert caught.value.code == "unverifiable_permissions"
    assert canned.seen == []  # nothing was asked of the venue


@pytest.mark.parametrize("venue", sorted(UNVERIFIABLE))
async def test_a_key_the_probe_shows_cannot_trade_is_accepted_as_unverifiable(canned: Canned, venue: str) -> None:
    probed = UNVERIFIABLE[venue]
    serve(canned, probed.balances)
    canned.answer(*probed.probe, probed.denied[1], probed.denied[0])
    report = (await verify(canned, venue, key(venue), acknowledge=True)).report
    assert report.accepted
    assert report.verified_by == "unverifiable"
    assert report.read is True
    assert report.trade is (False if probed.trade_known else None)
    assert report.withdraw is None
    assert report.transfer is None
    # read first, then exactly one probe on the one-order endpoint (never a cancel-all)
    assert canned.paths() == [" ".join(next(iter(probed.balances))), " ".join(probed.probe)]
    reply = await balances(canned, venue, key(venue), check=False)
    assert totals(reply) == probed.expected


@pytest.mark.parametrize("venue", sorted(UNVERIFIABLE))
async def test_a_key_the_probe_shows_can_trade_is_refused(canned: Canned, venue: str) -> None:
    probed = UNVERIFIABLE[venue]
    serve(canned, probed.balances)
    canned.answer(*probed.probe, probed.allowed[1], probed.allowed[0])
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, key(venue), acknowledge=True)
    assert caught.value.code == "write_permissions"
    assert caught.value.failure.details["switch_off"] == probed.switch_off


@pytest.mark.parametrize("venue", sorted(UNVERIFIABLE))
async def test_an_inconclusive_probe_refuses_the_key(canned: Canned, venue: str) -> None:
    probed = UNVERIFIABLE[venue]
    serve(canned, probed.balances)
    canned.answer(*probed.probe, probed.inconclusive[1], probed.inconclusive[0])
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, key(venue), acknowledge=True)
    assert caught.value.code in {"probe_inconclusive", "exchange_unavailable"}


@pytest.mark.parametrize(
    ("venue", "answer"),
    [
        ("bitvavo", (403, {"errorCode": 307, "error": "This key does not allow access from this IP."})),
        ("onetrading", (403, {"error": "CLIENT_IP_BLOCKED"})),
    ],
)
async def test_a_permission_error_other_than_the_documented_one_proves_nothing(
    canned: Canned, venue: str, answer: tuple[int, Any]
) -> None:
    # Both are PermissionDenied in ccxt, but they are not "this key cannot trade": the probe is inconclusive.
    probed = UNVERIFIABLE[venue]
    serve(canned, probed.balances)
    canned.answer(*probed.probe, answer[1], answer[0])
    with pytest.raises(EgressError) as caught:
        await verify(canned, venue, key(venue), acknowledge=True)
    assert caught.value.code == "probe_inconclusive"


@pytest.mark.parametrize("venue", sorted(VERIFIED))
async def test_a_timeout_on_the_permission_call_refuses_the_key(canned: Canned, venue: str) -> None:
    documented = VERIFIED[venue]
    wire = key(venue)
    serve(canned, {**documented.read_only, **documented.balances}, wire.api_key.get_secret_value())
    for method, path in documented.read_only:
        status, body = canned.routes[(method, path)]
        canned.answer(method, path, body, status, delay=5)
    request = VerifyRequest(exchange=venue, key=wire)
    with pytest.raises(EgressError) as caught:
        await client(canned, venue, timeout=0.3, attempts=1).call("exchange.verify", request, VerifyReply)
    assert caught.value.code == "timeout"
