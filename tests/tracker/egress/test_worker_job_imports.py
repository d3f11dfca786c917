"""What a worker imports for the job it is given: each source kind's libraries only when a request of that kind
comes (a worker without EVM wallets imports no web3, one without exchange accounts no exchange class), and web3
without py_ecc's BLS12-381 tables (egress/keyfile_bls.py). Each runs the real dispatch in a fresh interpreter
prepared as the worker prepares itself; every request stops with a stable code after its imports and before any
network call (no RPC or Esplora configured, or a venue at a closed port)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tallyhold.egress.protocol import WIRE_CONTEXT, EgressConfig
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.wire import BalancesRequest

ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
WATCHED = (
    "web3",
    "eth_account",
    "eth_keyfile",
    "py_ecc.bls",
    "py_ecc.bls12_381",
    "py_ecc.optimized_bls12_381",
    "bip_utils",
    "ccxt.async_support.binance",
    "ccxt.async_support.kraken",
)
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens there on this machine's loopback


def _job(requests: list[tuple[str, dict[str, Any]]], config: EgressConfig) -> dict[str, Any]:
    code = f"""
import asyncio, json, sys
from tallyhold.egress import worker
worker.prepare_imports()
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressConfig, EgressError
config = EgressConfig.model_validate_json({config.model_dump_json()!r})
codes = []
for op, payload in {requests!r}:
    try:
        asyncio.run(dispatch(op, payload, config))
        codes.append("ok")
    except EgressError as error:
        codes.append(error.code)
print(json.dumps({{"codes": codes, "loaded": [m for m in {WATCHED!r} if m in sys.modules]}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def _config(**values: Any) -> EgressConfig:
    return EgressConfig(customer_id="t_00000000000000ff", log_level="WARNING", **values)


EVM_WALLET = ("chain.balances", {"chain": "ethereum", "address": "0x" + "11" * 20})
XPUB = ("chain.balances", {"chain": "bitcoin", "xpub": ZPUB})


def test_a_worker_reading_only_bitcoin_wallets_imports_neither_web3_nor_any_exchange() -> None:
    found = _job([XPUB], _config())
    assert found == {"codes": ["chain_not_configured"], "loaded": ["bip_utils"]}


def test_a_worker_reading_evm_wallets_imports_web3_without_py_ecc_bls_tables() -> None:
    found = _job([EVM_WALLET], _config())
    assert found == {"codes": ["chain_not_configured"], "loaded": ["web3", "eth_account", "eth_keyfile"]}


def test_a_worker_reading_only_exchanges_imports_no_wallet_library() -> None:
    key = ExchangeKey.model_validate({"api_key": "k" * 24, "api_secret": "s" * 32})
    request = BalancesRequest(exchange="binance", key=key, check_permissions=False)
    config = _config(exchange_api_overrides={"binance": CLOSED_PORT}, options={"exchanges": {"deadline": 5}})
    found = _job([("exchange.balances", request.model_dump(mode="json", context=WIRE_CONTEXT))], config)
    assert found["loaded"] == ["ccxt.async_support.binance"]
    assert found["codes"] != ["ok"]  # nothing listens there: the call fails, after its imports


KEYFILE = """
import json, sys
from tallyhold.egress import keyfile_bls
keyfile_bls.install()
from eth_keyfile.keyfile import create_keyfile_json, decode_keyfile_json, MAX_V4_PRIVATE_KEY
lazy = "py_ecc.bls" not in sys.modules and "py_ecc.bls12_381" not in sys.modules
secret = bytes(range(1, 33))
stored = create_keyfile_json(secret, b"password", version=4, iterations=2)  # a BLS keystore: py_ecc on first use
from py_ecc.bls import G2ProofOfPossession
from py_ecc.bls12_381 import curve_order
print(json.dumps({
    "lazy": lazy,
    "pubkey": stored["pubkey"] == G2ProofOfPossession.SkToPk(int.from_bytes(secret, "big")).hex(),
    "max": MAX_V4_PRIVATE_KEY == curve_order - 1,
    "decoded": decode_keyfile_json(stored, b"password") == secret,
    "real_packages": all(hasattr(sys.modules[name], "__file__") for name in ("py_ecc.bls", "py_ecc.bls12_381")),
}))
"""


def test_bls_keystores_still_work_with_py_ecc_loaded_on_first_use() -> None:
    done = subprocess.run([sys.executable, "-c", KEYFILE], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found == {"lazy": True, "pubkey": True, "max": True, "decoded": True, "real_packages": True}
