"""`make run`, for real: the Makefile target in a temporary state folder, interrupted like Ctrl-C does it (SIGINT
to the whole foreground process group), then run again on the same folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.local.supervisor import Supervisor

START_TIMEOUT = 400.0
STOP_TIMEOUT = 120.0


def _start(state: Path) -> tuple[subprocess.Popen[str], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYHOLD_")}
    env["TALLYHOLD_STATE_DIR"] = str(state)
    process = subprocess.Popen(
        ["make", "-s", "run"],
        cwd=checkout_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job is
    )
    assert process.stdout is not None
    lines: dict[str, str] = {}
    deadline = time.monotonic() + START_TIMEOUT
    while "token" not in lines:
        line = process.stdout.readline()
        if not line:
            _, err = process.communicate(timeout=30)
            pytest.fail(f"make run ended before printing a token: {err[-3000:]}")
        key, _, value = line.strip().partition(": ")
        if key in {"url", "token"}:
            lines[key] = value
        assert time.monotonic() < deadline, "make run did not print url and token in time"
    return process, lines["url"], lines["token"]


def _interrupt(process: subprocess.Popen[str], state: Path) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
    process.communicate(timeout=STOP_TIMEOUT)
    # make may return before its child finished cleaning up: wait for the platform itself to be gone.
    postgres, bao = LocalPostgres(state / "postgres"), LocalOpenBao(state / "openbao")
    supervisor = Supervisor(state / "supervisor")
    deadline = time.monotonic() + STOP_TIMEOUT
    while postgres.running() or bao.running() or supervisor.running():
        assert time.monotonic() < deadline, "make run left services running after Ctrl-C"
        time.sleep(0.2)


def _demo_tokens(state: Path) -> list[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYHOLD_")}
    env["TALLYHOLD_STATE_DIR"] = str(state)
    listed = subprocess.run(
        [str(checkout_root() / ".venv" / "bin" / "tallyhold-provision"), "tokens", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [(row["label"], row["state"]) for row in json.loads(listed.stdout)]


def _get(url: str, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_make_run_prints_a_working_token_stops_on_ctrl_c_and_resumes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    default_state = checkout_root() / ".tallyhold"
    default_existed = default_state.exists()

    process, url, token = _start(state)
    try:
        networth = _get(url, token, "/v1/networth")
        assert networth.status_code == 200, networth.text
        assert networth.json()["quote"] == "USD"
        connections = _get(url, token, "/v1/connections")
        assert connections.status_code == 200
        body = connections.json()
        items = body["items"] if isinstance(body, dict) else body
        kinds = sorted(c["kind"] for c in items)
        assert kinds == ["exchange", "manual", "manual", "wallet"]
        first_ids = sorted(c["id"] for c in items)
    finally:
        _interrupt(process, state)

    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=2)
    for folder in ("postgres", "openbao", "supervisor", "instances", "logs", "sandbox", "anvil"):
        assert (state / folder).is_dir(), folder
    assert default_state.exists() == default_existed  # nothing outside TALLYHOLD_STATE_DIR

    process, url_again, token_again = _start(state)
    try:
        assert token_again != token  # a newly issued token on every run
        resumed = _get(url_again, token_again, "/v1/connections")
        assert resumed.status_code == 200, resumed.text
        body = resumed.json()
        items = body["items"] if isinstance(body, dict) else body
        assert sorted(c["id"] for c in items) == first_ids  # the same data, nothing seeded twice
        assert _get(url_again, token_again, "/v1/networth").status_code == 200
        # No token outlives its run unseen: the first run's is revoked, and it was the only other one issued.
        assert _get(url_again, token, "/v1/networth").status_code == 401
        assert _demo_tokens(state) == [("make run", "revoked"), ("make run", "active")]
    finally:
        _interrupt(process, state)
