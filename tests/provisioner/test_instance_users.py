"""Each local customer's instance and egress worker run as an OS user of its own, which reads its own
files and nothing else of the platform. The probes run inside customer A's running instance: in its mount
namespace (nsenter into its pid) with its uid and gid and no other group (setpriv), the way code that took over
the instance would run."""

from __future__ import annotations

import json
import pwd
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tallyhold_provision.local.forkserver import PROGRAM as FORKSERVER
from tallyhold_provision.local.osuser import instance_user_name
from tallyhold_provision.registry import Customer
from tests.fixtures.chain import ChainWorld
from tests.fixtures.provisioner import INSTANCE_ENVIRON, ControlPlane

SLUGS = ("users-alpha", "users-beta")


@pytest.fixture(scope="module")
def pair(control_plane: ControlPlane, chain_world: ChainWorld) -> Iterator[tuple[tuple[Customer, str], Customer]]:
    with control_plane.provisioner(environ=_environ(chain_world)) as provisioner:
        try:
            a = provisioner.create(SLUGS[0], backend="local")
            b = provisioner.create(SLUGS[1], backend="local")
            assert a.token is not None
            yield (a.customer, a.token), b.customer
        finally:
            for slug in SLUGS:
                provisioner.destroy(slug)


def _environ(chain_world: ChainWorld) -> dict[str, str]:
    return {**INSTANCE_ENVIRON, "TALLYHOLD_EVM_RPC_ETHEREUM": chain_world.url}


def _as_instance(
    plane: ControlPlane, customer: Customer, *argv: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    pid = plane.supervisor.pid(customer.id)
    assert pid is not None
    user = pwd.getpwnam(instance_user_name(customer.id))
    command = ["nsenter", f"--target={pid}", "--mount", "--", "setpriv", f"--reuid={user.pw_uid}",
               f"--regid={user.pw_gid}", "--clear-groups", "--", *argv]  # fmt: skip
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=30, check=False)


def _workers(plane: ControlPlane, instance: psutil.Process) -> list[psutil.Process]:
    """The instance's egress workers: forked by the host's fork server as the instance's user, or (when the
    server gave none) started by the instance itself."""
    forkserver = plane.supervisor.pid(FORKSERVER)
    forked = psutil.Process(forkserver).children() if forkserver else []
    try:
        uid = instance.uids().effective
        return instance.children(recursive=True) + [w for w in forked if w.uids().effective == uid]
    except psutil.NoSuchProcess:
        return []


def _forks(metrics_url: str | None) -> float:
    """The instance's `tallyhold_egress_worker_forks_total{result="forked"}`."""
    assert metrics_url is not None
    for line in httpx.get(metrics_url, timeout=10).text.splitlines():
        if line.startswith('tallyhold_egress_worker_forks_total{result="forked"}'):
            return float(line.split()[-1])
    return 0.0


def _secret_paths(plane: ControlPlane, b: Customer, a: Customer) -> list[Path]:
    platform = plane.state_dir.parent  # the session's Postgres and OpenBao live next to the state folder
    return [
        plane.state_dir / "instances" / b.id / "env.json",
        plane.state_dir / "instances" / b.id / "secrets.json",
        plane.state_dir / "instances" / a.id / "secrets.json",  # the provisioner's copy: not the instance's
        plane.state_dir / "logs" / f"{b.id}.log",
        plane.openbao.unseal_keys_file,
        plane.openbao.root_token_file,
        plane.postgres.password_file,
        plane.postgres.data / "PG_VERSION",
        plane.state_dir / "provisioner" / "vault-approle.json",
        plane.state_dir / "supervisor" / "supervisord.conf",
        platform / "postgres" / "postgres.log",
    ]


def test_instance_reads_its_own_settings_and_nothing_else(control_plane: ControlPlane, pair) -> None:
    (a, _), b = pair
    own = _as_instance(control_plane, a, "cat", str(control_plane.state_dir / "instances" / a.id / "env.json"))
    assert own.returncode == 0, own.stderr  # the probe works: what it is refused below is the modes' doing
    assert a.id in own.stdout
    for path in _secret_paths(control_plane, b, a):
        assert path.exists(), path
        probe = _as_instance(control_plane, a, "cat", str(path))
        assert probe.returncode != 0, path
        assert probe.stdout == "", path
        assert "Permission denied" in probe.stderr, (path, probe.stderr)
    for folder in (control_plane.state_dir / "instances" / b.id, control_plane.state_dir / "instances",
                   control_plane.openbao.root, control_plane.postgres.data):  # fmt: skip
        listing = _as_instance(control_plane, a, "ls", str(folder))
        assert listing.returncode != 0, folder
        assert b.id not in listing.stdout, folder


def test_instance_cannot_write_its_folder_or_reach_the_interpreters_home(control_plane: ControlPlane, pair) -> None:
    (a, _), _ = pair
    folder = control_plane.state_dir / "instances" / a.id
    planted = _as_instance(control_plane, a, "ln", "-s", "/etc/shadow", str(folder / ".env.json.1.tmp"))
    assert planted.returncode != 0  # no symlink for the provisioner (root) to write through
    assert not (folder / ".env.json.1.tmp").exists()
    replaced = _as_instance(control_plane, a, "mv", str(folder / "env.json"), str(folder / "moved"))
    assert replaced.returncode != 0
    shadow = _as_instance(control_plane, a, "cat", "/etc/shadow")
    assert shadow.returncode != 0


def test_what_the_instance_writes_in_its_env_file_does_not_steer_the_provisioner(
    control_plane: ControlPlane, chain_world: ChainWorld, pair
) -> None:
    (a, _), _ = pair
    env_file = control_plane.state_dir / "instances" / a.id / "env.json"
    tampered = {**json.loads(env_file.read_text()), "TALLYHOLD_HTTP_PORT": "1"}
    try:
        written = _as_instance(control_plane, a, "sh", "-c", f"cat > {env_file}", stdin=json.dumps(tampered))
        assert written.returncode == 0, written.stderr  # its own file: it may write it
        health = control_plane.backend.health(a)  # checked at the URL the registry holds, not the file's
        assert health.healthy, health
    finally:
        with control_plane.provisioner(environ=_environ(chain_world)) as provisioner:
            provisioner.create(SLUGS[0], backend="local")  # the provisioner's settings are written back
    assert json.loads(env_file.read_text())["TALLYHOLD_HTTP_PORT"] != "1"


def _wallet_synced(url: str, headers: dict[str, str]) -> bool:
    status = httpx.get(f"{url}/v1/sync/status", headers=headers, timeout=10).json()
    sources = status["sources"]
    return not status["running"] and bool(sources) and all(s["last_success_at"] for s in sources)


def test_instance_and_egress_worker_run_as_the_customers_user_and_still_sync(
    control_plane: ControlPlane, chain_world: ChainWorld, pair
) -> None:
    (a, token), b = pair
    user_a, user_b = (pwd.getpwnam(instance_user_name(c.id)) for c in (a, b))
    assert user_a.pw_uid != user_b.pw_uid
    assert 0 not in (user_a.pw_uid, user_a.pw_gid)
    instance = psutil.Process(control_plane.supervisor.pid(a.id))
    assert instance.uids().real == instance.uids().effective == user_a.pw_uid
    assert instance.gids().real == user_a.pw_gid

    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{a.url}/v1/connections/wallet",
        json={"chain": "ethereum", "address": chain_world.holders[0], "label": "probe wallet"},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    assert httpx.post(f"{a.url}/v1/sync", headers=headers, timeout=10).status_code == 202
    workers: dict[int, tuple[int, int, str]] = {}
    deadline = time.monotonic() + 90
    synced = False
    while not synced:
        synced = _wallet_synced(a.url, headers)  # then once more: the worker idles a while after its last call
        for worker in _workers(control_plane, instance):
            try:
                status = Path(f"/proc/{worker.pid}/status").read_text()
                workers[worker.pid] = (worker.uids().effective, worker.gids().effective, status)
            except (psutil.NoSuchProcess, FileNotFoundError):
                continue
        assert time.monotonic() < deadline, "the wallet did not sync"
        time.sleep(0.05)
    assert workers, "no egress worker was seen"
    assert {(uid, gid) for uid, gid, _ in workers.values()} == {(user_a.pw_uid, user_a.pw_gid)}
    for _, _, status in workers.values():  # forked by the host's fork server: nothing more than the instance has
        fields = dict(line.split(":", 1) for line in status.splitlines())
        assert fields["Groups"].strip() == ""
        assert fields["NoNewPrivs"].strip() == "1"
    assert _forks(a.metrics_url) > 0, "the worker was not forked by the host's fork server"
    assert not instance.children(), "the instance started a worker itself"
    balances = httpx.get(f"{a.url}/v1/balances", headers=headers, timeout=10).json()
    assert any(item["asset"] == "ETH" for item in balances["items"])


def test_destroy_removes_the_os_user_and_every_process_it_runs(control_plane: ControlPlane) -> None:
    with control_plane.provisioner() as provisioner:
        customer = provisioner.create("users-gone", backend="local").customer
        name = instance_user_name(customer.id)
        user = pwd.getpwnam(name)
        assert user.pw_uid != 0
        # As a worker forked by the host's fork server runs: the customer's user, outside its instance's group.
        straggler = subprocess.Popen(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                                      "--clear-groups", "--", "sleep", "300"], start_new_session=True)  # fmt: skip
        try:
            provisioner.destroy("users-gone")
            assert straggler.wait(timeout=30) == -9  # killed, so that the user could be deleted
        finally:
            straggler.kill()
    with pytest.raises(KeyError):
        pwd.getpwnam(name)


def test_the_fork_server_sees_what_the_instances_see(control_plane: ControlPlane, pair) -> None:
    """Its workers run as the customers' users: in its mount namespace (the one an instance gets) such a user
    reads the interpreter and the checkout even when they sit below a folder that user may not enter."""
    (a, _), _ = pair
    forkserver = control_plane.supervisor.pid(FORKSERVER)
    assert forkserver is not None
    user = pwd.getpwnam(instance_user_name(a.id))
    command = ["nsenter", f"--target={forkserver}", "--mount", "--", "setpriv", f"--reuid={user.pw_uid}",
               f"--regid={user.pw_gid}", "--clear-groups", "--", sys.executable, "-P", "-c",
               "import decimal, tallyhold.chains.bitcoin; print('ok')"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _slot_locks(pid: int, folder: Path) -> list[str]:
    """The slots `pid` holds a flock on, by /proc/locks (`FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> ...`)."""
    by_inode = {str(slot.stat().st_ino): slot.name for slot in folder.iterdir()}
    held = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[4] == str(pid):
            inode = fields[5].rsplit(":", 1)[-1]
            if inode in by_inode:
                held.append(by_inode[inode])
    return held


def test_the_instance_holds_a_host_worker_slot_while_its_worker_lives(
    control_plane: ControlPlane, chain_world: ChainWorld, pair
) -> None:
    """The host's bound on egress workers (tallyhold_provision/worker_slots.py): the folder is there for the
    instance (its mount namespace shows it read-only), and a worker runs only while its instance holds a slot."""
    (a, token), _ = pair
    folder = control_plane.state_dir / "egress-worker-slots"
    assert sorted(p.name for p in folder.iterdir()) == [f"slot-{n:03d}" for n in range(32)]  # the default bound
    assert (folder.stat().st_mode & 0o777, (folder / "slot-000").stat().st_mode & 0o777) == (0o755, 0o644)
    listed = _as_instance(control_plane, a, "ls", str(folder))
    assert listed.returncode == 0, listed.stderr
    assert "slot-031" in listed.stdout
    planted = _as_instance(control_plane, a, "touch", str(folder / "slot-999"))
    assert planted.returncode != 0
    assert not (folder / "slot-999").exists()

    instance = psutil.Process(control_plane.supervisor.pid(a.id))
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{a.url}/v1/sync", headers=headers, timeout=10).status_code == 202
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while not seen:
        workers = _workers(control_plane, instance)
        if workers:  # a worker lives: its slot is held by the instance, not by the worker
            seen = _slot_locks(instance.pid, folder)
            assert not any(_slot_locks(worker.pid, folder) for worker in workers)
        assert time.monotonic() < deadline, "no worker with a held slot was seen"
        time.sleep(0.05)
    assert len(seen) == 1
