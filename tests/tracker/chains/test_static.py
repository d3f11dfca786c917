"""Things that hold without any service: the curated token lists, the pure-Python address code against
bip-utils, the contract build's reproducibility, and the API process never importing web3 or bip-utils."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tallyhold.chains.addresses import (
    InvalidAddress,
    normalise_bitcoin_address,
    normalise_evm_address,
    parse_extended_public_key,
)
from tallyhold.chains.catalog import CHAINS, EVM_CHAIN_NAMES
from tallyhold.chains.tokenlist import TOKENS_DIR, curated_tokens
from tallyhold.settings import EVM_CHAINS
from tests.fixtures.chain import ARTIFACT, ROOT
from tests.fixtures.esplora import SeedWallet

ASSET = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,23}$")


def test_catalogue_matches_the_settings():
    assert EVM_CHAIN_NAMES == EVM_CHAINS
    assert {CHAINS[c].chain_id for c in EVM_CHAIN_NAMES} == {1, 42161, 10, 8453, 137, 56}


@pytest.mark.parametrize("chain", EVM_CHAIN_NAMES)
def test_curated_lists_are_sound(chain: str):
    tokens = curated_tokens(chain)
    assert tokens
    assert sorted(p.stem for p in TOKENS_DIR.glob("*.json")) == sorted(EVM_CHAIN_NAMES)
    for token in tokens:
        assert normalise_evm_address(token.contract) == token.contract, token  # EIP-55, so typos are caught
        assert 0 <= token.decimals <= 36
        assert ASSET.fullmatch(token.asset)
        assert len(f"onchain:{token.symbol}") <= 32
    assert len({t.contract.lower() for t in tokens}) == len(tokens)


def test_pure_python_validation_agrees_with_bip_utils():
    for kind, script in (("xpub", "p2pkh"), ("ypub", "p2sh"), ("zpub", "p2wpkh"), ("taproot", "p2tr")):
        wallet = SeedWallet(kind)
        for chain in (0, 1):
            for index in range(5):
                address = wallet.address(chain, index)
                assert normalise_bitcoin_address(address).type == script
                assert (
                    normalise_bitcoin_address(address.upper() if script in ("p2wpkh", "p2tr") else address).value
                    == address
                )
        if kind != "taproot":
            assert parse_extended_public_key(wallet.extended_public_key).kind == kind
            with pytest.raises(InvalidAddress):
                parse_extended_public_key(wallet.extended_public_key[:-1] + "1")


def test_derived_addresses_match_bip_utils():
    from tallyhold.chains.hdkeys import XpubDeriver

    for kind in ("xpub", "ypub", "zpub"):
        wallet = SeedWallet(kind)
        deriver = XpubDeriver(wallet.extended_public_key)
        assert [deriver.address(c, i) for c in (0, 1) for i in range(3)] == [
            wallet.address(c, i) for c in (0, 1) for i in range(3)
        ]


def test_make_contracts_rebuilds_the_artifact_byte_for_byte(tmp_path: Path):
    subprocess.run(
        ["node", str(ROOT / "tools" / "compile-contracts.mjs"), str(tmp_path)], check=True, capture_output=True
    )
    assert (tmp_path / ARTIFACT.name).read_bytes() == ARTIFACT.read_bytes()
    artifact = json.loads(ARTIFACT.read_text())
    assert artifact["compiler"].startswith("solc-js 0.8.37")
    assert {f["name"] for f in artifact["abi"] if f["type"] == "function"} >= {
        "balanceOf",
        "symbol",
        "decimals",
        "mint",
    }


def test_the_api_process_never_imports_web3_or_bip_utils():
    code = (
        "import sys\n"
        "import tallyhold.app, tallyhold.chains.endpoints, tallyhold.chains.service, tallyhold.chains.sync\n"
        "from tallyhold.chains import addresses\n"
        "from tallyhold.security import guard\n"
        "guard.refuse_secret_material({'label': 'abandon ' * 3})\n"
        "addresses.normalise_evm_address('0x52908400098527886e0f7030069857d2e4169ee7')\n"
        "addresses.parse_extended_public_key(sys.argv[1])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'web3', 'bip_utils', 'ccxt', 'eth_abi'})\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, SeedWallet("zpub").extended_public_key], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "[]"
