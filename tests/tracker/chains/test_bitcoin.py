"""Bitcoin balances through the wire-faithful Esplora sandbox: xpub/ypub/zpub scans stop at the gap limit,
single addresses of every type, confirmed and unconfirmed apart, satoshi-exact, retries on faults."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressError
from tallyhold.sources.models import SourceBalances
from tallyhold_sandbox.esplora.server import EsploraSandbox
from tests.fixtures.esplora import SeedWallet
from tests.tracker.chains.conftest import egress_config

RECEIVE, CHANGE = 0, 1
SAT = Decimal("0.00000001")


async def _read(esplora: EsploraSandbox, **target: object) -> SourceBalances:
    config = egress_config(esplora=esplora.url)
    return SourceBalances.model_validate(await dispatch("chain.balances", {"chain": "bitcoin", **target}, config))


def _fund_scenario(esplora: EsploraSandbox, wallet: SeedWallet) -> None:
    state = esplora.state
    state.fund(wallet.address(RECEIVE, 0), 150_000_000)
    state.fund(wallet.address(RECEIVE, 3), 25_000_001)
    state.fund(wallet.address(RECEIVE, 7), 10_000, confirmed=False)  # in the mempool
    state.fund(wallet.address(CHANGE, 2), 10_000_000)


@pytest.mark.parametrize("kind", ["xpub", "ypub", "zpub"])
async def test_extended_key_scan_stops_at_the_gap_limit(esplora: EsploraSandbox, kind: str):
    wallet = SeedWallet(kind)
    _fund_scenario(esplora, wallet)
    esplora.state.reset_log()
    result = await _read(esplora, xpub=wallet.extended_public_key, gap_limit=20)
    (btc,) = result.balances
    assert (btc.asset, btc.location) == ("BTC", "onchain")
    assert btc.amount == 185_000_001 * SAT  # confirmed only
    assert btc.unconfirmed == 10_000 * SAT
    # Receive: last used index 7 → 0..27; change: last used 2 → 0..22; each asked exactly once.
    expected = {wallet.address(RECEIVE, i) for i in range(28)} | {wallet.address(CHANGE, i) for i in range(23)}
    queried = esplora.state.queried()
    assert set(queried) == expected
    assert set(queried.values()) == {1}
    assert result.facts["addresses_scanned"] == 51
    assert result.facts["addresses_used"] == 4
    assert (result.facts["receive_next_index"], result.facts["change_next_index"]) == (8, 3)


async def test_gap_limit_is_configurable(esplora: EsploraSandbox):
    wallet = SeedWallet("zpub")  # funded by the test above when run together; fund again here if alone
    if not esplora.state.outputs.get(wallet.address(RECEIVE, 0)):
        _fund_scenario(esplora, wallet)
    esplora.state.reset_log()
    result = await _read(esplora, xpub=wallet.extended_public_key, gap_limit=3)
    # Receive: 0..3 (0 and 3 used), 4..6 unused → stop; index 7 is beyond the gap and not seen.
    assert set(esplora.state.queried()) == {wallet.address(RECEIVE, i) for i in range(7)} | {
        wallet.address(CHANGE, i) for i in range(6)
    }
    (btc,) = result.balances
    assert btc.amount == 185_000_001 * SAT
    assert btc.unconfirmed == 0


async def test_an_empty_extended_key_asks_gap_limit_addresses_per_chain(esplora: EsploraSandbox):
    from bip_utils import Bip39SeedGenerator, Bip84, Bip84Coins

    unused = Bip84.FromSeed(Bip39SeedGenerator("zoo " * 11 + "wrong").Generate(), Bip84Coins.BITCOIN)
    xpub = str(unused.Purpose().Coin().Account(5).PublicKey().ToExtended())
    esplora.state.reset_log()
    result = await _read(esplora, xpub=xpub, gap_limit=20)
    assert len(esplora.state.queried()) == 40
    assert result.balances[0].amount == 0


@pytest.mark.parametrize(
    ("kind", "script"), [("xpub", "p2pkh"), ("ypub", "p2sh"), ("zpub", "p2wpkh"), ("taproot", "p2tr")]
)
async def test_single_addresses_of_every_type(esplora: EsploraSandbox, kind: str, script: str):
    address = SeedWallet(kind).address(RECEIVE, 42)
    esplora.state.fund(address, 123_456_789)
    esplora.state.fund(address, 1, confirmed=False)
    esplora.state.reset_log()
    result = await _read(esplora, address=address)
    (btc,) = result.balances
    assert btc.amount == Decimal("1.23456789")
    assert btc.unconfirmed == SAT
    assert esplora.state.requests == [f"/address/{address}"]


async def test_pending_spends_are_not_counted_as_held(esplora: EsploraSandbox):
    address = SeedWallet("zpub").address(CHANGE, 40)
    esplora.state.fund(address, 70_000_000)
    esplora.state.fund(address, 30_000_000)
    esplora.state.spend(address, 30_000_000, confirmed=False)
    result = await _read(esplora, address=address)
    (btc,) = result.balances
    assert btc.amount == Decimal("0.7")
    assert btc.unconfirmed == 0


async def test_esplora_faults_are_retried(esplora: EsploraSandbox):
    address = SeedWallet("zpub").address(RECEIVE, 41)
    esplora.state.fund(address, 5_000)
    esplora.state.reset_log()
    esplora.state.faults[:] = ["429", "500", "malformed"]
    result = await _read(esplora, address=address)
    assert result.balances[0].amount == 5_000 * SAT
    assert len(esplora.state.requests) == 4


async def test_an_address_esplora_refuses_is_a_permanent_error(esplora: EsploraSandbox):
    with pytest.raises(EgressError) as caught:
        await _read(esplora, address="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx")
    assert caught.value.code == "invalid_address"
    assert not caught.value.transient
