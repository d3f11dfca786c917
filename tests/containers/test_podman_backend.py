"""The podman backend for real: two customers, each a pod on a network of its own, against a Postgres and an
OpenBao that listen beyond the loopback address (as the embedded platform does for this backend).

Lean on purpose (two customers, built image reused): isolation from inside A's container, hardening and no
secret in `podman inspect` or the logs, SIGKILL → restarted with nothing lost, suspend/resume, upgrade onto a
rebuilt image with the data kept, render, and destroy leaving nothing behind."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hvac
import pytest

from tallyhold.settings import secret_bearing_settings
from tallyhold_provision.backends.podman import PodmanBackend
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.operations import PASSWORD_KEY, WRAPPED_SECRET_ID_KEY, Provisioner
from tallyhold_provision.podman.engine import inspect, podman, podman_json
from tallyhold_provision.podman.image import BuildRequest, build
from tallyhold_provision.podman.spec import INSTANCE_ARGS, INSTANCE_ENTRYPOINT, NETWORK_POOL, SLOTS_DIR
from tallyhold_provision.postgres import Databases
from tallyhold_provision.registry import Customer
from tallyhold_provision.vault import LOCAL_INSTANCE_CIDRS, Vault, VaultLayout, bootstrap, login

TENANT_DATABASE = "tallyhold"
ENVIRON = {"TALLYHOLD_LOG_LEVEL": "INFO", "TALLYHOLD_EGRESS_IDLE_SECONDS": "5"}


@dataclass
class Stack:
    customer: Customer
    token: str

    @property
    def container(self) -> str:
        return f"tallyhold-{self.customer.id}-instance"

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=str(self.customer.url), headers={"Authorization": f"Bearer {self.token}"}, timeout=15
        )


@dataclass
class PodmanPlane:
    postgres: LocalPostgres
    openbao: LocalOpenBao
    state_dir: Path
    provisioner: Provisioner
    backend: PodmanBackend
    stacks: dict[str, Stack]


@pytest.fixture(scope="module")
def plane(tracker_image: str) -> Iterator[PodmanPlane]:
    root = Path(tempfile.mkdtemp(prefix="tallyhold-podman-"))
    root.chmod(0o711)  # Postgres runs as its own service user under root: it must traverse to its folder
    postgres = LocalPostgres(root / "postgres", listen_all=True)
    openbao = LocalOpenBao(root / "openbao", listen_all=True)
    postgres.start()
    openbao.start()
    # The pods log in from their networks' pool, as `make run` on podman configures it.
    layout = VaultLayout(instance_cidrs=f"{LOCAL_INSTANCE_CIDRS},{NETWORK_POOL}")
    approle = bootstrap(openbao.admin_client(), None, layout)
    # A tag of this module's own: a `make image` run elsewhere on the machine meanwhile retags the shared one.
    image = f"{tracker_image}-test-{secrets.token_hex(4)}"
    podman("tag", tracker_image, image)
    backend = PodmanBackend(root / "state", image=image, health_timeout=120)
    provisioner = Provisioner(
        databases=Databases(postgres.url(), TENANT_DATABASE),
        vault=lambda: Vault(login(openbao.addr, approle=approle), openbao.addr, layout),
        backends={"podman": backend},
        environ=ENVIRON,
    )
    plane = PodmanPlane(postgres, openbao, root / "state", provisioner, backend, {})
    try:
        for slug in ("alpha-co", "beta-co"):
            result = provisioner.create(slug, backend="podman")
            assert result.token is not None
            plane.stacks[slug] = Stack(result.customer, result.token)
        yield plane
    finally:
        for slug in ("alpha-co", "beta-co"):
            provisioner.destroy(slug)
        provisioner.close()
        podman("rmi", image, check=False)
        openbao.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def holdings(stack: Stack) -> dict[str, str]:
    with stack.api() as api:
        response = api.get("/v1/balances")
        assert response.status_code == 200, response.text
        return {item["asset"]: item["amount"] for item in response.json()["items"]}


def add_holding(stack: Stack, asset: str, amount: str) -> None:
    with stack.api() as api:
        created = api.post("/v1/connections/manual", json={"label": asset, "asset": asset, "amount": amount})
        assert created.status_code == 201, created.text


def wait_until(check: Any, what: str, deadline: float = 120.0) -> None:
    limit = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < limit, f"timed out waiting for {what}"
        time.sleep(0.2)


def healthy(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.customer.url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_each_customer_serves_its_own_data(plane: PodmanPlane) -> None:
    alpha, beta = plane.stacks["alpha-co"], plane.stacks["beta-co"]
    add_holding(alpha, "XAU", "2")
    add_holding(beta, "XAG", "70")
    assert holdings(alpha) == {"XAU": "2"}
    assert holdings(beta) == {"XAG": "70"}
    assert alpha.customer.url != beta.customer.url
    assert alpha.customer.url is not None
    assert alpha.customer.url.startswith("http://127.0.0.1:")
    assert alpha.customer.metrics_url is not None
    assert httpx.get(alpha.customer.metrics_url, timeout=5).status_code == 200
    assert plane.backend.health(alpha.customer).healthy


def test_hardened_and_no_secret_in_inspect_or_logs(plane: PodmanPlane) -> None:
    alpha = plane.stacks["alpha-co"]
    inspected = podman_json("container", "inspect", alpha.container)[0]
    host = inspected["HostConfig"]
    assert inspected["Config"]["User"] == "10001:10001"
    assert host["ReadonlyRootfs"] is True
    assert host["CapAdd"] in (None, [])
    assert "CAP_NET_RAW" in host["CapDrop"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] > 0
    assert host["PidsLimit"] > 0
    assert host["NanoCpus"] > 0
    assert host["RestartPolicy"]["Name"] == "always"
    assert inspected["Config"]["Env"].count("TALLYHOLD_TLS_UPSTREAM=true") == 1
    names = {entry.split("=", 1)[0] for entry in inspected["Config"]["Env"]}
    assert not names & {"TALLYHOLD_DATABASE_URL", "TALLYHOLD_VAULT_SECRET_ID", "TALLYHOLD_VAULT_WRAPPED_SECRET_ID"}
    # The canary sweep: every secret of both customers, over everything podman shows and logs.
    shown = ""
    for stack in plane.stacks.values():
        pod = f"tallyhold-{stack.customer.id}"
        shown += podman("container", "inspect", stack.container).stdout + podman("pod", "inspect", pod).stdout
        logs = podman("logs", stack.container)
        shown += logs.stdout + logs.stderr
    shown += podman("secret", "ls", "--format", "json").stdout
    for stack in plane.stacks.values():
        stored = plane.backend.load_secrets(stack.customer)
        for value in (stored[PASSWORD_KEY], stored[WRAPPED_SECRET_ID_KEY], stack.token):
            assert value not in shown


ATTEMPTS = """
import json, os, socket, sys
import hvac, psycopg
results = {}
def attempt(name, action):
    try:
        action()
        results[name] = "allowed"
    except Exception as exc:
        results[name] = type(exc).__name__
def connect(host, port):
    socket.create_connection((host, port), timeout=3).close()
b = json.loads(sys.argv[1])
attempt("published port via host", lambda: connect("host.containers.internal", b["http_port"]))
attempt("published port via loopback", lambda: connect("127.0.0.1", b["http_port"]))
attempt("pod address", lambda: connect(b["pod_ip"], 8080))
secret = lambda name: open(f"/run/secrets/{name}").read().strip()
url = secret("TALLYHOLD_DATABASE_URL").replace("postgresql+psycopg://", "postgresql://")
def read_schema():
    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute(f"SELECT count(*) FROM {b['schema']}.connections").fetchone()
attempt("schema", read_schema)
def own_schema():
    with psycopg.connect(url, connect_timeout=5) as conn:
        conn.execute("SELECT count(*) FROM connections").fetchone()
attempt("own schema", own_schema)
def transit():
    client = hvac.Client(url=secret("TALLYHOLD_VAULT_ADDR"), timeout=5)  # a URL setting: a secret file
    # A's own secret id, as its instance unwrapped and kept it (A's real identity).
    secret_id = json.load(open(os.environ["TALLYHOLD_VAULT_SECRET_ID_FILE"]))["secret_id"]
    role_id = os.environ["TALLYHOLD_VAULT_ROLE_ID"]
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    client.secrets.transit.encrypt_data(name=b["key"], plaintext="aGVsbG8=", context="eA==")
attempt("transit key", transit)
attempt("state folder", lambda: os.listdir(b["state_dir"]))
print(json.dumps(results))
"""


def test_a_reaches_nothing_of_b_from_inside_its_container(plane: PodmanPlane) -> None:
    alpha, beta = plane.stacks["alpha-co"], plane.stacks["beta-co"]
    networks = inspect("container", beta.container)["NetworkSettings"]["Networks"]
    target = {
        "http_port": beta.customer.backend_state["http_port"],
        "pod_ip": next(iter(networks.values()))["IPAddress"],
        "schema": beta.customer.names.schema,
        "key": beta.customer.names.transit_key,
        "state_dir": str(plane.state_dir),
    }
    output = podman("exec", alpha.container, "python", "-c", ATTEMPTS, json.dumps(target)).stdout
    results = json.loads(output)
    assert results.pop("own schema") == "allowed"  # the attempts run with A's real credentials
    assert results == {
        "published port via host": "ConnectionRefusedError",
        "published port via loopback": "ConnectionRefusedError",
        "pod address": "TimeoutError",
        "schema": "InsufficientPrivilege",
        "transit key": "Forbidden",
        "state folder": "FileNotFoundError",
    }


def test_sigkill_restarts_the_container_with_nothing_lost(plane: PodmanPlane) -> None:
    alpha = plane.stacks["alpha-co"]
    before = holdings(alpha)
    started = inspect("container", alpha.container)["State"]["StartedAt"]
    # A crash, not `podman kill` (which podman counts as stopped by the user, and never restarts).
    os.kill(inspect("container", alpha.container)["State"]["Pid"], signal.SIGKILL)

    def restarted() -> bool:
        now = inspect("container", alpha.container)["State"]["StartedAt"]
        return bool(now != started) and healthy(alpha)

    wait_until(restarted, "the restart policy to bring the container back")
    assert holdings(alpha) == before


def test_suspend_and_resume(plane: PodmanPlane) -> None:
    beta = plane.stacks["beta-co"]
    plane.provisioner.suspend("beta-co")
    state = inspect("container", beta.container)["State"]["Status"]
    assert state in {"exited", "stopped", "created"}  # created: replaced (new settings or image) and not started
    assert not healthy(beta)
    plane.provisioner.resume("beta-co")
    assert holdings(beta) == {"XAG": "70"}


def test_upgrade_onto_a_rebuilt_image_keeps_the_data(plane: PodmanPlane) -> None:
    alpha = plane.stacks["alpha-co"]
    old = inspect("container", alpha.container)["Image"]
    tag = plane.backend.image.rpartition(":")[2]
    rebuilt = build(BuildRequest(tag=tag, labels={"tallyhold.test.rebuild": secrets.token_hex(4)}))
    assert rebuilt == plane.backend.image
    new = inspect("image", rebuilt)["Id"]
    assert new != old
    summary = plane.provisioner.upgrade(["alpha-co", "beta-co"])
    assert summary.upgraded == ["alpha-co", "beta-co"]
    assert summary.failed == {}
    assert inspect("container", alpha.container)["Image"] == new
    assert holdings(alpha) == {"XAU": "2"}


SLOT_PROBE = """
import fcntl, json, os, sys
folder = os.environ["TALLYHOLD_EGRESS_WORKER_SLOTS_DIR"]
taken, refused = [], []
for name in sorted(os.listdir(folder)):
    descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        taken.append(name)
    except BlockingIOError:
        refused.append(name)
    finally:
        os.close(descriptor)
try:
    open(os.path.join(folder, "slot-999"), "w")
    written = "allowed"
except OSError as exc:
    written = type(exc).__name__
print(json.dumps({"taken": taken, "refused": refused, "write": written}))
"""


def test_the_pods_share_the_hosts_egress_worker_slots_read_only(plane: PodmanPlane) -> None:
    """The host's bound on egress workers alive at once holds across containers: a slot locked on the host
    (as another pod's instance would) is locked inside every pod, which sees the folder read-only."""
    alpha = plane.stacks["alpha-co"]
    folder = plane.state_dir / "egress-worker-slots"
    mounts = {mount["Destination"]: mount for mount in inspect("container", alpha.container)["Mounts"]}
    mounted = mounts[SLOTS_DIR]
    assert (mounted["Source"], mounted["RW"]) == (str(folder), False)
    held: dict[str, int] = {}
    try:
        for name in (f"slot-{n:03d}" for n in range(16)):
            descriptor = os.open(folder / name, os.O_RDONLY)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held[name] = descriptor
            except BlockingIOError:  # one the two instances hold meanwhile, for a worker of theirs
                os.close(descriptor)
        probe = json.loads(podman("exec", alpha.container, "python", "-c", SLOT_PROBE).stdout)
    finally:
        for descriptor in held.values():
            os.close(descriptor)
    assert len(held) >= 14
    assert set(held) <= set(probe["refused"])
    # The rest is free but for a slot the two instances may hold meanwhile (their workers: prices, syncs).
    assert len(set(probe["refused"]) - set(held)) <= 2
    assert set(probe["taken"]) | set(probe["refused"]) == {f"slot-{n:03d}" for n in range(32)}
    assert probe["write"] in {"OSError", "PermissionError"}  # read-only mount (EROFS) or not its folder
    assert not (folder / "slot-999").exists()


def test_render_names_secrets_and_shows_the_commands(plane: PodmanPlane) -> None:
    alpha = plane.stacks["alpha-co"]
    rendered = plane.provisioner.render("alpha-co", "podman")
    spec = json.loads(rendered)
    assert spec["pod"] == f"tallyhold-{alpha.customer.id}"
    # Render needs no Vault login (so no Vault settings); every setting that may hold a credential is a secret.
    assert "TALLYHOLD_DATABASE_URL" in spec["secrets"]
    assert set(spec["secrets"]) <= secret_bearing_settings()
    assert not any(setting in secret_bearing_settings() for setting in plane.backend.spec(alpha.customer, {}).env)
    assert spec["commands"][-2][:2] == ["podman", "create"]
    # The instance runs as the local backend runs it: `python -OO -X no_debug_ranges -m tallyhold.serve`.
    created = spec["commands"][-2]
    image = created.index(spec["image"])
    assert created[image - 2 :] == ["--entrypoint", INSTANCE_ENTRYPOINT, spec["image"], *INSTANCE_ARGS]
    stored = plane.backend.load_secrets(alpha.customer)
    assert stored[PASSWORD_KEY] not in rendered
    assert stored[WRAPPED_SECRET_ID_KEY] not in rendered
    fresh = json.loads(plane.provisioner.render("gamma-co", "podman"))
    assert fresh["pod"].startswith("tallyhold-t_")
    assert plane.provisioner.registry.get("gamma-co") is None  # nothing applied


def test_destroy_leaves_nothing_behind(plane: PodmanPlane) -> None:
    beta = plane.stacks.pop("beta-co")
    plane.provisioner.destroy("beta-co")
    prefix = f"tallyhold-{beta.customer.id}"
    listings = {
        "ps -a": podman("ps", "--all", "--format", "{{.Names}}").stdout,
        "pod ls": podman("pod", "ls", "--format", "{{.Name}}").stdout,
        "secret ls": podman("secret", "ls", "--format", "{{.Name}}").stdout,
        "volume ls": podman("volume", "ls", "--format", "{{.Name}}").stdout,
        "network ls": podman("network", "ls", "--format", "{{.Name}}").stdout,
    }
    assert {name: prefix in text for name, text in listings.items()} == dict.fromkeys(listings, False)
    assert not plane.backend.instance_dir(beta.customer).exists()
    admin = plane.openbao.admin_client()
    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.transit.read_key(name=beta.customer.names.transit_key)
