"""`TALLYHOLD_PROVISIONER_DEFAULT_BACKEND=podman make run`, for real: the demo as a container stack (the tracker
image, a pod of its own) in a temporary state folder. Its data syncs from inside the container (the sandbox venue
and anvil reached across the pod's network); Ctrl-C (SIGINT to the whole foreground process group) leaves none of
its containers running; the next run resumes with the same data. While it runs, the operator's `rotate-key` and
`token` / `revoke-token` act on the container stack: the data still decrypts after the rotation, a new token is
accepted and a revoked one refused."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.podman.engine import podman, podman_json
from tests.provisioner.test_devstack import _demo_tokens, _get, _interrupt, _start

SYNC_TIMEOUT = 180.0
SYNCED_KINDS = ("exchange", "wallet")  # the sources that reach outside the container (manual holdings do not)


@pytest.fixture
def state(tracker_image: str) -> Iterator[Path]:
    """A state folder outside pytest's temporary folders (see tests/provisioner/test_devstack.py). The image is
    built first, so that `make run`'s own build step only reuses its layers. At the end, whatever the test's
    outcome, the demo's podman objects (pod, containers, secrets, volume, network; all named after its id) go."""
    parent = Path(tempfile.mkdtemp(prefix="tallyhold-devstack-podman-"))
    parent.chmod(0o711)
    try:
        yield parent / "state"
    finally:
        for customer_id in _customer_ids(parent / "state"):
            _remove_stack(f"tallyhold-{customer_id}")
        shutil.rmtree(parent, ignore_errors=True)


def _customer_ids(state: Path) -> list[str]:
    """The ids the podman backend made folders for (its instances/<id>/), readable with the platform down."""
    instances = state / "instances"
    return sorted(path.name for path in instances.iterdir()) if instances.is_dir() else []


def _remove_stack(prefix: str) -> None:
    podman("pod", "rm", "--force", "--time", "0", "--ignore", prefix, check=False)
    secrets = [
        name for name in podman("secret", "ls", "--format", "{{.Name}}").stdout.split() if name.startswith(f"{prefix}-")
    ]
    if secrets:
        podman("secret", "rm", *secrets, check=False)
    podman("volume", "rm", "--force", f"{prefix}-state", check=False)
    podman("network", "rm", "--force", prefix, check=False)


def _provision(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYHOLD_")}
    env["TALLYHOLD_STATE_DIR"] = str(state)
    return subprocess.run(
        [str(checkout_root() / ".venv" / "bin" / "tallyhold-provision"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def _containers(pod: str) -> dict[str, str]:
    """Every container of the pod (its infra container too) → its state."""
    listed = podman_json("ps", "--all", "--filter", f"pod={pod}", "--format", "json")
    return {item["Names"][0]: item["State"] for item in listed}


def _synced(url: str, token: str) -> dict[str, Any]:
    """Asks for a sync of every source and waits until none is running or waiting for its first sync."""
    assert _post(url, token, "/v1/sync").status_code == 202
    deadline = time.monotonic() + SYNC_TIMEOUT
    while True:
        status: dict[str, Any] = _get(url, token, "/v1/sync/status").json()
        states = {source["state"] for source in status["sources"] if source["kind"] in SYNCED_KINDS}
        if not status["running"] and not states & {"syncing", "never_synced"}:
            return status
        assert time.monotonic() < deadline, f"the demo's sync did not finish: {status}"
        time.sleep(0.5)


def _post(url: str, token: str, path: str) -> httpx.Response:
    return httpx.post(f"{url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _assert_synced(url: str, token: str) -> dict[str, str]:
    """Every source that reaches outside the container synced; returns the balances, asset → amount."""
    status = _synced(url, token)
    sources = {source["kind"]: source["state"] for source in status["sources"] if source["kind"] in SYNCED_KINDS}
    assert sources == dict.fromkeys(SYNCED_KINDS, "ok"), status
    balances = _get(url, token, "/v1/balances").json()["items"]
    return {item["asset"]: item["amount"] for item in balances}


def _connection_ids(url: str, token: str) -> list[str]:
    body = _get(url, token, "/v1/connections").json()
    return sorted(c["id"] for c in (body["items"] if isinstance(body, dict) else body))


def _assert_nothing_running(pod: str, url: str) -> None:
    containers = _containers(pod)
    assert containers, f"the demo's pod {pod} is gone: the next run would lose its volume"
    assert not [name for name, state in containers.items() if state == "running"], containers
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_make_run_on_podman_syncs_from_the_container_stops_on_ctrl_c_and_resumes(state: Path) -> None:
    process, url, token = _start(state, TALLYHOLD_PROVISIONER_DEFAULT_BACKEND="podman")
    try:
        (customer,) = [row for row in json.loads(_provision(state, "list", "--json").stdout) if row["slug"] == "demo"]
        assert customer["backend"] == "podman"
        pod = f"tallyhold-{customer['id']}"
        assert _containers(pod)[f"{pod}-instance"] == "running"
        body = _get(url, token, "/v1/connections").json()
        kinds = sorted(c["kind"] for c in (body["items"] if isinstance(body, dict) else body))
        assert kinds == ["exchange", "manual", "manual", "wallet"]
        first_ids = _connection_ids(url, token)
        balances = _assert_synced(url, token)  # the venue and the chain, reached from inside the pod
        assert balances
    finally:
        _interrupt(process, state)
    _assert_nothing_running(pod, url)

    process, url_again, token_again = _start(state, TALLYHOLD_PROVISIONER_DEFAULT_BACKEND="podman")
    try:
        assert _containers(pod)[f"{pod}-instance"] == "running"
        assert token_again != token
        assert _connection_ids(url_again, token_again) == first_ids  # the same data, nothing seeded twice
        assert _assert_synced(url_again, token_again) == balances
        assert _get(url_again, token, "/v1/networth").status_code == 401  # the first run's token, revoked
        assert _demo_tokens(state) == [("make run", "revoked"), ("make run", "active")]

        # rotate-key on the container stack: every ciphertext rewrapped, the exchange key still decrypts.
        rotated = _provision(state, "rotate-key", "demo").stdout
        assert re.search(r"key version [2-9]", rotated), rotated
        assert _assert_synced(url_again, token_again) == balances

        # token / revoke-token: a new token is accepted; once revoked, refused.
        issued = _provision(state, "token", "demo", "--label", "operator check")
        operator_token = re.search(r"^token: (\S+)$", issued.stdout, re.MULTILINE)
        token_id = re.search(r"`revoke-token demo (\w+)`", issued.stderr)
        assert operator_token is not None, issued.stdout
        assert token_id is not None, issued.stderr
        assert _get(url_again, operator_token[1], "/v1/networth").status_code == 200
        _provision(state, "revoke-token", "demo", token_id[1])
        assert _get(url_again, operator_token[1], "/v1/networth").status_code == 401
    finally:
        _interrupt(process, state)
    _assert_nothing_running(pod, url_again)
