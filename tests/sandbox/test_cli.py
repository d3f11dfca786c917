"""`tallyhold-sandbox serve` as a process: seed file, recorded ports (reused on restart), the HTTP control API
through RemoteControl, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tallyhold_sandbox import RemoteControl, RemoteControlError
from tallyhold_sandbox.credentials import generate

SCRIPT = Path(sys.executable).with_name("tallyhold-sandbox")


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    ports_file = tmp_path / "ports.json"
    before = ports_file.stat().st_mtime_ns if ports_file.exists() else None
    process = subprocess.Popen(
        [str(SCRIPT), "serve", "--ports-file", str(ports_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ports_file.exists() and ports_file.stat().st_mtime_ns != before:
            return process, json.loads(ports_file.read_text())
        if process.poll() is not None:
            raise AssertionError(process.stderr.read() if process.stderr else "exited")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the sandbox did not record its ports in time")


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return process.returncode, out


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the sandbox's own http URL
        return json.loads(response.read())


@pytest.fixture(scope="module")
def seed_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    credentials = generate("binance")
    seed = {
        "venues": {
            "binance": {
                "keys": [credentials.key_spec(balances={"spot": {"BTC": "2"}})],
                "tickers": {"BTC/USDT": "70000"},
            }
        }
    }
    path = tmp_path_factory.mktemp("seed") / "seed.json"
    path.write_text(json.dumps(seed))
    return path, credentials.api_key


def test_serve_with_seed_records_ports_and_stops_cleanly(tmp_path, seed_file):
    path, api_key = seed_file
    process, record = _start(tmp_path, "--seed", str(path), "--venue", "binance")
    try:
        url = record["venues"]["binance"]["url"]
        assert record["overrides"] == {"binance": url}
        ticker = _get(url + "/api/v3/ticker/price?symbol=BTCUSDT")
        assert ticker == {"symbol": "BTCUSDT", "price": "70000"}
        remote = RemoteControl(url)
        view = remote.view()
        assert [k["api_key"] for k in view["keys"]] == [api_key]
        assert "secret" not in json.dumps(view)
        assert view["keys"][0]["balances"] == {"spot": {"BTC": {"free": "2", "locked": "0"}}}
        remote.add_key("second", "s3cr3t", permissions=["read", "withdraw"], balances={"funding": {"ETH": "1"}})
        remote.set_balances("second", {"spot": {"SOL": "3"}}, replace=False)
        remote.set_tickers({"BTC/USDT": "71000"})
        assert _get(url + "/api/v3/ticker/price?symbol=BTCUSDT")["price"] == "71000"
        fault_id = remote.add_fault("rate_limit", path="/api/v3/ticker/price", retry_after=2, times=1)
        assert fault_id > 0
        with pytest.raises(urllib.error.HTTPError) as limited:
            _get(url + "/api/v3/ticker/price?symbol=BTCUSDT")
        assert limited.value.code == 429
        assert limited.value.headers["Retry-After"] == "2"
        log = remote.requests()
        assert [(e["path"], e["status"], e["fault"]) for e in log[-2:]] == [
            ("/api/v3/ticker/price", 200, None),
            ("/api/v3/ticker/price", 429, "rate_limit"),
        ]
        with pytest.raises(RemoteControlError, match="no wallet"):
            remote.set_balances("second", {"savings-account": {"BTC": "1"}})
        remote.reset()
        assert [k["api_key"] for k in remote.view()["keys"]] == [api_key]  # back to the seed
        assert remote.requests() == []
    finally:
        code, out = _stop(process)
    assert code == 0
    assert f"binance: {url}" in out


def test_restart_reuses_the_recorded_ports(tmp_path):
    process, first = _start(tmp_path)
    _stop(process)
    process, second = _start(tmp_path)
    _stop(process)
    assert second["overrides"] == first["overrides"]
