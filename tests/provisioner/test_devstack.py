"""`make run`, for real: the Makefile target in a temporary state folder, interrupted like Ctrl-C does it (SIGINT
to the whole foreground process group), then run again on the same folder; killed (SIGKILL) while it stops and
while it runs, after which nothing of it may keep running; a demo seed the instance refuses; a failing step."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import psutil
import pytest

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.osuser import remove_instance_identity
from tallyhold_provision.local.ports import free_port
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.local.supervisor import Supervisor

START_TIMEOUT = 400.0
STOP_TIMEOUT = 120.0


MAKE_RUN = ("make", "-s", "run")
DEVSTACK = (sys.executable, "-m", "tallyhold_provision.devstack")  # what `make run` runs, without make around it


def _environment(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYHOLD_")}
    return {**env, "TALLYHOLD_STATE_DIR": str(state), **extra}


def _start(state: Path, command: tuple[str, ...] = MAKE_RUN, **extra: str) -> tuple[subprocess.Popen[str], str, str]:
    env = _environment(state, **extra)
    process = subprocess.Popen(
        command,
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


@pytest.fixture
def state() -> Iterator[Path]:
    """A state folder outside pytest's temporary folders: every pytest session (eight share this machine) resets
    /tmp/pytest-of-<user> to 0700, which would lock the Postgres service user out of its data directory midway."""
    parent = Path(tempfile.mkdtemp(prefix="tallyhold-devstack-"))
    parent.chmod(0o711)
    try:
        yield parent / "state"
    finally:
        # The demo customer is never destroyed (its data outlives every run): its OS user goes with the folder.
        for folder in (parent / "state" / "instances").glob("t_*"):
            remove_instance_identity(folder.name)
        shutil.rmtree(parent, ignore_errors=True)


def _get(url: str, token: str, path: str) -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_make_run_prints_a_working_token_stops_on_ctrl_c_and_resumes(state: Path) -> None:
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


def _platform_processes(parent: psutil.Process, state: Path) -> set[psutil.Process]:
    """Every process of the run: its descendants, and whatever names the state folder (daemons that left the
    tree: supervisord, the postmaster) with their own descendants (instances, egress workers, venues, anvil)."""
    found = set(parent.children(recursive=True))
    for process in psutil.process_iter(["cmdline"]):
        if any(str(state) in part for part in process.info["cmdline"] or []):
            found.add(process)
            found.update(process.children(recursive=True))
    found.discard(parent)
    return found


def _describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} {process.username()} {' '.join(process.cmdline())}"
    except psutil.Error:
        return str(process.pid)


def _left_running(state: Path) -> list[str]:
    return [
        " ".join(p.info["cmdline"])
        for p in psutil.process_iter(["cmdline"])
        if any(str(state) in part for part in p.info["cmdline"] or [])
    ]


def _assert_all_gone(processes: set[psutil.Process], state: Path) -> None:
    _, alive = psutil.wait_procs(list(processes), timeout=STOP_TIMEOUT)
    try:
        assert not alive, [_describe(p) for p in alive]
        assert not _left_running(state)
    finally:
        for process in alive:  # ours: started by this test's make run; do not leave them to the next test
            with suppress(psutil.NoSuchProcess):
                process.kill()


def _kinds(url: str, token: str) -> list[str]:
    body = _get(url, token, "/v1/connections").json()
    return sorted(c["kind"] for c in (body["items"] if isinstance(body, dict) else body))


def test_a_refused_seed_warns_and_a_killed_make_run_leaves_nothing_running(state: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # Binance routed to a venue where the sandbox key means nothing
    overrides = json.dumps({"binance": nobody})
    process, url, token = _start(state, DEVSTACK, TALLYHOLD_EXCHANGE_API_OVERRIDES=overrides)
    assert process.stderr is not None
    try:
        assert _kinds(url, token) == ["manual", "manual", "wallet"]  # the platform came up without the exchange
        processes = _platform_processes(psutil.Process(process.pid), state)
        names = {p.name() for p in processes}
        assert {"bao", "supervisord", "postgres", "anvil"} <= names, names
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C…
        told: list[str] = []
        while "stopping…" not in told:
            line = process.stderr.readline()
            assert line, f"make run ended before it began to stop: {told}"
            told.append(line.strip())
        process.kill()  # …and killed while it stops (the terminal closed)
        process.wait(STOP_TIMEOUT)
        assert process.stdout is not None
        assert process.stdout.read() == ""  # stdout holds the url: and token: lines only
        _assert_all_gone(processes, state)
    finally:
        if process.poll() is None:
            process.kill()
    for step in ("Postgres", "OpenBao", "supervisord", "sandbox exchange venues", "local chain (anvil)",
                 "customer demo", "demo holdings"):  # fmt: skip
        assert f"{step}…" in told, told
        assert any(line.startswith(f"{step}: ready in ") for line in told), (step, told)
    warnings = [line for line in told if line.startswith("warning:")]
    assert len(warnings) == 1, told
    assert "'Binance (sandbox)' was refused" in warnings[0]

    # Killed outright this time, without a Ctrl-C first; the exchange the operator's routing refused is added now.
    process, url, token = _start(state, DEVSTACK)
    try:
        assert _kinds(url, token) == ["exchange", "manual", "manual", "wallet"]
        processes = _platform_processes(psutil.Process(process.pid), state)
        process.kill()
        process.wait(STOP_TIMEOUT)
        _assert_all_gone(processes, state)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_failed_step_says_which_and_what_to_do_and_stops_what_it_started(state: Path) -> None:
    (state / "openbao").mkdir(parents=True)
    (state / "openbao" / "unseal-keys").write_text("[]\n")  # unseal material without its storage: refused
    result = subprocess.run(
        DEVSTACK, env=_environment(state), capture_output=True, text=True, timeout=START_TIMEOUT, check=False
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert any(line.startswith("Postgres: ready in ") for line in lines), lines
    assert "error: OpenBao failed: OpenBaoError: " in result.stderr
    assert f"what to do: read {state / 'openbao' / 'bao.log'}; then run `make run` again" in result.stderr
    assert not LocalPostgres(state / "postgres").running()
    assert not LocalOpenBao(state / "openbao").running()
    assert not _left_running(state)
