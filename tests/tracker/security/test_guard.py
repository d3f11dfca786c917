"""The secret-paste guard: every form of secret material, in every wallet field, is refused with 422
`secret_material`, registered with the log redaction, counted, never stored; unusual public data passes."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from bip_utils import (
    Bip39Languages,
    Bip39MnemonicGenerator,
    Bip39WordsNum,
    Bip44,
    Bip44Coins,
    WifEncoder,
    WifPubKeyModes,
)
from prometheus_client import REGISTRY

from tallyhold.logging import encodings, secrets
from tallyhold.security import guard
from tallyhold.settings import Settings
from tests.fixtures.esplora import TEST_MNEMONIC, SeedWallet
from tests.fixtures.instance import assert_error, count_rows, instance_settings
from tests.fixtures.platform import Tenant

ZPUB = SeedWallet("zpub")
PRIVATE = ZPUB.private_key_hex(0, 0)
_raw_private = bytes.fromhex(PRIVATE)
_testnet_account = Bip44.FromSeed(bytes(range(64)), Bip44Coins.BITCOIN_TESTNET).Purpose().Coin().Account(0)
MNEMONIC_24 = str(Bip39MnemonicGenerator().FromEntropy(bytes(range(100, 132))))
_words = TEST_MNEMONIC.split()
MISTYPED = " ".join([*_words[:5], "zoo" if _words[5] != "zoo" else "abandon", *_words[6:]])  # checksum broken

SECRETS: dict[str, tuple[str, str]] = {
    "hex key": (PRIVATE, "private_key"),
    "hex key with 0x": ("0x" + PRIVATE, "private_key"),
    "hex key upper case with 0X": ("0X" + PRIVATE.upper(), "private_key"),
    "hex key inside a sentence": (f"my key is {PRIVATE}, keep it safe", "private_key"),
    "BIP-39 seed as hex": (bytes(range(64)).hex(), "private_key"),
    "WIF compressed": (ZPUB.wif(0, 0), "wif"),
    "WIF uncompressed": (WifEncoder.Encode(_raw_private, pub_key_mode=WifPubKeyModes.UNCOMPRESSED), "wif"),
    "WIF testnet": (WifEncoder.Encode(_raw_private, net_ver=b"\xef"), "wif"),
    "xprv": (SeedWallet("xpub").extended_private_key, "xprv"),
    "yprv": (SeedWallet("ypub").extended_private_key, "xprv"),
    "zprv": (ZPUB.extended_private_key, "xprv"),
    "tprv": (str(_testnet_account.PrivateKey().ToExtended()), "xprv"),
    "mnemonic 12": (TEST_MNEMONIC, "mnemonic"),
    "mnemonic 24": (MNEMONIC_24, "mnemonic"),
    "mnemonic with extra spaces and capitals": ("  " + "   ".join(w.upper() for w in _words) + "\n", "mnemonic"),
    "mnemonic numbered": (" ".join(f"{i}. {w.capitalize()}" for i, w in enumerate(_words, 1)), "mnemonic"),
    "mnemonic comma separated": (",".join(_words), "mnemonic"),
    "mnemonic inside a sentence": (f"seed: {TEST_MNEMONIC} (backup)", "mnemonic"),
    "mnemonic mistyped (fails closed)": (MISTYPED, "mnemonic"),
    "mnemonic spanish": (
        str(Bip39MnemonicGenerator(Bip39Languages.SPANISH).FromWordsNumber(Bip39WordsNum.WORDS_NUM_12)),
        "mnemonic",
    ),
    "mnemonic french": (
        str(Bip39MnemonicGenerator(Bip39Languages.FRENCH).FromWordsNumber(Bip39WordsNum.WORDS_NUM_15)),
        "mnemonic",
    ),
}

UNUSUAL_BUT_PUBLIC = [
    "0x52908400098527886e0f7030069857d2e4169ee7",  # all lowercase
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",  # all uppercase: no checksum
    "0x0000000000085d4780B73119b644AE5ecd22b376",  # leading zeros
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",  # bech32 in upper case
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",  # P2WSH
    "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",  # P2TR
    "1BitcoinEaterAddressDontSendf59kuE",  # vanity
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",  # P2SH
    ZPUB.extended_public_key,
    SeedWallet("xpub").extended_public_key,
    "Cold storage: ledger in the safe, bought 2019",
    "Savings wallet for the family trip to the ocean and the mountain",
    "a" * 63,
    "f" * 65,
]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_every_form_is_detected(name: str):
    value, kind = SECRETS[name]
    findings = list(guard.scan(value))
    assert findings, name
    assert findings[0].kind == kind


@pytest.mark.parametrize("value", UNUSUAL_BUT_PUBLIC)
def test_public_data_passes(value: str):
    assert list(guard.scan(value)) == []


def test_large_bodies_are_scanned_and_registered_bounded():
    # Up to the body cap, whatever the payload: ordinary words pass, a wall of wordlist words is a phrase, and
    # what gets registered with the redaction filter stays field-sized.
    assert list(guard.scan("harbour " * 8_000)) == []
    (finding,) = guard.scan("abandon " * 8_000)
    assert finding.kind == "mnemonic"
    assert finding.secret == " ".join(["abandon"] * 24)


@pytest.fixture(scope="module")
def settings(tenant: Tenant, rpc_proxy, esplora) -> Settings:
    return instance_settings(tenant, EVM_RPC_ETHEREUM=rpc_proxy.url, ESPLORA_URL=esplora.url, EGRESS_MODE="inprocess")


FIELDS = ["address", "xpub", "label", "chain", "unknown"]


def _body(field: str, value: str) -> dict[str, str]:
    body = {"chain": "bitcoin", "address": "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "label": "Mine"}
    if field == "xpub":
        del body["address"]
    body["seed" if field == "unknown" else field] = value
    return body


# Every form in the address field, and one form of each kind in every other field (each registration recompiles
# the redaction pattern, so the full cross product would only make the suite slower, not stronger).
CASES = [(name, "address") for name in sorted(SECRETS)] + [
    (name, field)
    for name in ("hex key with 0x", "WIF compressed", "zprv", "mnemonic with extra spaces and capitals")
    for field in FIELDS
    if field != "address"
]


@pytest.mark.parametrize(("name", "field"), CASES)
async def test_refused_in_every_field(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, name: str, field: str
):
    value, kind = SECRETS[name]
    before = REGISTRY.get_sample_value("tallyhold_secret_material_refused_total", {"kind": kind}) or 0
    caplog.set_level(logging.DEBUG)
    response = await client.post("/v1/connections/wallet", json=_body(field, value))
    error = assert_error(response, 422, "secret_material")
    assert error["kind"] == kind
    assert "Never share it" in error["message"]
    assert "compromised" in error["message"]
    assert await count_rows(client) == 0
    assert REGISTRY.get_sample_value("tallyhold_secret_material_refused_total", {"kind": kind}) == before + 1
    # Registered with the redaction filter, and nowhere in the answer or the logs, in any encoding.
    assert secrets.scrub(value.strip()) != value.strip()
    forms = encodings(value.strip())
    logged = "\n".join(caplog.messages) + json.dumps([vars(r) for r in caplog.records], default=str)
    for form in forms:
        assert form not in response.text
        assert form not in logged


async def test_refused_in_a_token_request(client: httpx.AsyncClient):
    response = await client.post("/v1/tokens", json={"chain": "ethereum", "contract": "0x" + PRIVATE})
    assert_error(response, 422, "secret_material")
    assert (await client.get("/v1/tokens", params={"chain": "ethereum"})).json()["items"][-1]["source"] == "curated"


async def test_refused_even_as_a_key_or_a_number(client: httpx.AsyncClient):
    digits = "1" * 64  # a hex key made only of digits, sent as a JSON number
    response = await client.post(
        "/v1/connections/wallet",
        content=f'{{"chain": "bitcoin", "address": {digits}}}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 422, "secret_material")
    response = await client.post("/v1/connections/wallet", json={"chain": "bitcoin", TEST_MNEMONIC: "x"})
    assert_error(response, 422, "secret_material")


@pytest.mark.parametrize(
    "address", [a for a in UNUSUAL_BUT_PUBLIC if a.startswith(("bc1", "BC1", "1", "3", "zpub", "xpub"))]
)
async def test_unusual_bitcoin_addresses_are_accepted(client: httpx.AsyncClient, address: str):
    response = await client.post("/v1/connections/wallet", json={"chain": "bitcoin", "address": address})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("address", [a for a in UNUSUAL_BUT_PUBLIC if a.startswith("0x")])
async def test_unusual_evm_addresses_are_accepted(client: httpx.AsyncClient, address: str):
    response = await client.post("/v1/connections/wallet", json={"chain": "ethereum", "address": address})
    assert response.status_code == 201, response.text


async def test_refused_when_renaming_a_wallet(client: httpx.AsyncClient):
    created = await client.post("/v1/connections/wallet", json={"chain": "bitcoin", "xpub": ZPUB.extended_public_key})
    assert created.status_code == 201
    path = f"/v1/connections/{created.json()['id']}"
    assert_error(await client.patch(path, json={"label": "  ".join(_words)}), 422, "secret_material")
    assert (await client.get(path)).json()["label"] == "Bitcoin wallet"
    assert (await client.patch(path, json={"label": "Cold storage"})).json()["label"] == "Cold storage"
