"""The Esplora sandbox speaks electrs' REST API: paths, JSON shapes, text errors, cache headers; its control
routes shape the chain; it runs as a process (`tallyhold-sandbox esplora`) and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tallyhold_sandbox.esplora.server import EsploraSandbox
from tests.fixtures.esplora import SeedWallet

STAT_KEYS = {"funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count"}


@pytest.fixture
def sandbox():
    with EsploraSandbox() as running:
        yield running


def test_address_stats_have_electrs_shape(sandbox: EsploraSandbox):
    address = SeedWallet("zpub").address(0, 0)
    sandbox.state.fund(address, 100_000)
    sandbox.state.fund(address, 40_000)
    sandbox.state.spend(address, 40_000, confirmed=False)
    sandbox.state.fund(address, 7, confirmed=False)
    response = httpx.get(f"{sandbox.url}/address/{address}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "public, max-age=10"
    body = response.json()
    assert set(body) == {"address", "chain_stats", "mempool_stats"}
    assert body["address"] == address
    assert set(body["chain_stats"]) == STAT_KEYS == set(body["mempool_stats"])
    assert body["chain_stats"] == {
        "funded_txo_count": 2,
        "funded_txo_sum": 140_000,
        "spent_txo_count": 0,
        "spent_txo_sum": 0,
        "tx_count": 2,
    }
    assert body["mempool_stats"] == {
        "funded_txo_count": 1,
        "funded_txo_sum": 7,
        "spent_txo_count": 1,
        "spent_txo_sum": 40_000,
        "tx_count": 2,
    }
    utxos = httpx.get(f"{sandbox.url}/address/{address}/utxo").json()
    assert sorted(u["value"] for u in utxos) == [7, 100_000]
    assert {u["status"]["confirmed"] for u in utxos} == {True, False}


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-address", "Invalid Bitcoin address"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "Invalid Bitcoin address"),
        ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "Address on invalid network"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "Address on invalid network"),
    ],
)
def test_bad_addresses_answer_like_electrs(sandbox: EsploraSandbox, address: str, message: str):
    response = httpx.get(f"{sandbox.url}/address/{address}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == message


def test_tip_and_unknown_routes(sandbox: EsploraSandbox):
    assert httpx.get(f"{sandbox.url}/blocks/tip/height").text == str(sandbox.state.tip_height)
    assert len(httpx.get(f"{sandbox.url}/blocks/tip/hash").text) == 64
    assert httpx.get(f"{sandbox.url}/nope").status_code == 404


def test_control_routes_and_faults(sandbox: EsploraSandbox):
    address = SeedWallet("xpub").address(0, 1)
    assert httpx.post(f"{sandbox.url}/_sandbox/fund", json={"address": address, "sats": 5}).status_code == 200
    assert httpx.post(f"{sandbox.url}/_sandbox/fund", json={"address": "nope", "sats": 5}).status_code == 400
    httpx.post(f"{sandbox.url}/_sandbox/faults", json={"faults": ["429", "malformed"]})
    first = httpx.get(f"{sandbox.url}/address/{address}")
    assert (first.status_code, first.headers["retry-after"]) == (429, "0")
    with pytest.raises(json.JSONDecodeError):
        httpx.get(f"{sandbox.url}/address/{address}").json()
    assert httpx.get(f"{sandbox.url}/address/{address}").json()["chain_stats"]["funded_txo_sum"] == 5
    logged = httpx.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
    assert logged == [f"/address/{address}"] * 3


def test_runs_as_a_process(tmp_path: Path):
    address = SeedWallet("ypub").address(0, 0)
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"outputs": [{"address": address, "sats": 1234}]}))
    script = Path(sys.executable).with_name("tallyhold-sandbox")
    process = subprocess.Popen(
        [str(script), "esplora", "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("esplora: http://127.0.0.1:")
        url = line.removeprefix("esplora: ")
        assert httpx.get(f"{url}/address/{address}").json()["chain_stats"]["funded_txo_sum"] == 1234
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
