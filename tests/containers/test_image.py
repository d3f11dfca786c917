"""The tracker image (`make image`, the `tracker_image` fixture): a fixed non-root user, a read-only root
filesystem where only the tmpfs is writable, nothing in any layer that must not ship (secrets, .git, tests, the
sandbox, a compiler, uv), its labels and HEALTHCHECK, and a real instance in it, started as the podman backend
starts it (`python -OO`): /healthz, /readyz and a sync against the sandbox venues, with its secrets given as files
(TALLYHOLD_SECRETS_DIR), never as variables; what that instance reads is compiled in the image and its OpenAPI
document keeps every description."""

from __future__ import annotations

import asyncio
import json
import pkgutil
import re
import secrets
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

import tallyhold
from tallyhold.exchanges.guard import endpoints_of
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.exchanges.session import exchange_class
from tallyhold.settings import PriceSettings, Settings, leaves
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.ports import free_port
from tallyhold_provision.podman.engine import podman, podman_json
from tallyhold_provision.podman.image import BuildRequest, build, tracker_version
from tallyhold_provision.podman.spec import INSTANCE_ARGS, INSTANCE_ENTRYPOINT, INSTANCE_OPTIONS
from tallyhold_sandbox import Sandbox
from tallyhold_sandbox.credentials import generate
from tests.containers.layers import layer_count, layer_files, save
from tests.fixtures.bytecode import INSTANCE_IMPORTS, bytecode_check
from tests.fixtures.containers import PodmanRun
from tests.fixtures.esplora import SeedWallet
from tests.fixtures.instance import issue_token, sandbox_settings, settings_env, wait_idle
from tests.fixtures.openapi import SERVED_DOCUMENT, served_document
from tests.fixtures.platform import Tenant
from tests.fixtures.vault import VaultTenant

UID = "10001"
COMPILERS = {"gcc", "cc", "c++", "g++", "clang", "ld", "ld.bfd", "ld.gold", "tcc", "as", "cpp"}
BIN_DIRS = {"bin", "usr/bin", "usr/local/bin", "sbin", "usr/sbin", "opt/tallyhold/bin"}
FORBIDDEN_PARTS = {".git", "tallyhold_sandbox", "tallyhold_provision", "node_modules", ".tallyhold", ".venv"}
SITE_PACKAGES = "opt/tallyhold/lib/python3.11/site-packages/"
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SECRET_SETTINGS = ("DATABASE_URL", "MIGRATION_DATABASE_URL", "VAULT_TOKEN", "VAULT_SECRET_ID")


def test_runs_as_a_fixed_non_root_user(tracker_image: str) -> None:
    config = podman_json("image", "inspect", tracker_image)[0]["Config"]
    assert config["User"] == f"{UID}:{UID}"
    script = "import os; print(os.getuid(), os.getgid(), os.getgroups())"
    output = podman("run", "--rm", "--entrypoint", "python", tracker_image, "-c", script).stdout.split(maxsplit=2)
    assert output[:2] == [UID, UID]


def test_read_only_root_only_the_tmpfs_is_writable(tracker_image: str) -> None:
    probe = (
        "import json\n"
        "result = {}\n"
        "for path in ('/tmp/x', '/opt/tallyhold/x', '/etc/x', '/x', '/var/tmp/x'):\n"
        "    try:\n"
        "        open(path, 'a').close()\n"
        "        result[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        result[path] = exc.strerror\n"
        "print(json.dumps(result))\n"
    )
    output = podman(
        "run", "--rm", "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp", "--cap-drop", "all",
        "--security-opt", "no-new-privileges", "--entrypoint", "python", tracker_image, "-c", probe,
    ).stdout  # fmt: skip
    results = json.loads(output)
    assert results.pop("/tmp/x") == "written"
    assert set(results.values()) == {"Read-only file system"}, results


def test_labels_and_healthcheck(tracker_image: str) -> None:
    inspected = podman_json("image", "inspect", tracker_image)[0]
    labels = inspected["Labels"]
    assert labels["org.opencontainers.image.version"] == tracker_version()
    assert re.fullmatch(r"[0-9a-f]{40}", labels["org.opencontainers.image.revision"])
    assert labels["org.opencontainers.image.source"]
    assert inspected["Healthcheck"]["Test"] == ["CMD", "python", "-P", "-m", "tallyhold.healthcheck"]
    assert tracker_image == f"localhost/tallyhold:{tracker_version()}"


@pytest.fixture
def planted_canary() -> Iterator[str]:
    """A secret left in the checkout where a careless build would pick it up (an env file beside the tracker's
    sources, and a state folder), for the duration of one build."""
    canary = f"canary-{secrets.token_hex(12)}"
    root = checkout_root()
    planted = [root / "services" / "tracker" / ".env", root / ".tallyhold-canary" / "root-token"]
    for path in planted:
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"TALLYHOLD_VAULT_TOKEN={canary}\n")
    try:
        yield canary
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
        planted[1].parent.rmdir()


def test_no_secret_git_tests_sandbox_compiler_or_uv_in_any_layer(
    tracker_image: str, planted_canary: str, tmp_path: Path
) -> None:
    # Rebuilt with the canary in the checkout (every layer comes from the cache unless the canary got in).
    image = build(BuildRequest(tag=f"{tracker_version()}-canary-check"))
    try:
        archive = save(image, tmp_path)
    finally:
        podman("rmi", image, check=False)
    assert layer_count(archive) >= 2  # the base, and the virtualenv
    found: dict[str, list[str]] = {"forbidden": [], "compiler": [], "uv": [], "private key": [], "canary": []}
    files = 0
    for entry in layer_files(archive):
        directory, _, name = entry.path.rpartition("/")
        parts = set(entry.path.split("/"))
        files += 1
        # Third-party packages may ship their own tests (certifi/tests…): ours would be a top-level package.
        ours = not entry.path.startswith(SITE_PACKAGES) or entry.path.startswith(f"{SITE_PACKAGES}tallyhold/")
        if (
            FORBIDDEN_PARTS & parts
            or name in {".env", "root-token", "secrets.json"}
            or (ours and name == "conftest.py")
        ):
            found["forbidden"].append(entry.path)
        if entry.path.startswith((f"{SITE_PACKAGES}tests/", "tests/", "src/")):
            found["forbidden"].append(entry.path)
        if directory in BIN_DIRS and (name in COMPILERS or name.startswith(("gcc-", "x86_64-linux-gnu-", "clang-"))):
            found["compiler"].append(entry.path)
        if entry.path.startswith("usr/lib/gcc/") or name in {"cc1", "cc1plus"}:
            found["compiler"].append(entry.path)
        if name in {"uv", "uvx"}:
            found["uv"].append(entry.path)
        if entry.data is not None:
            # Packages' own self-tests carry throwaway keys (pycryptodome's SelfTest): only ours are checked.
            if ours and PRIVATE_KEY.search(entry.data):
                found["private key"].append(entry.path)
            if planted_canary.encode() in entry.data:
                found["canary"].append(entry.path)
    assert files > 1000  # the sweep did read the layers
    assert found == {key: [] for key in found}
    # The build-only CA bundle mount and the builder's sources are not in the image either.
    assert "run/tallyhold-build-ca.crt" not in {e.path for e in layer_files(archive, read_up_to=0)}


# -- a real instance in the image ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(tenant: Tenant, vault_tenant: VaultTenant, sandbox: Sandbox) -> Settings:
    # The container shares the host's network here (its own pod network is the podman backend's business,
    # tested there): the instance reaches the test session's Postgres, OpenBao and venues on 127.0.0.1.
    return sandbox_settings(tenant, vault_tenant, sandbox, HTTP_HOST="127.0.0.1", HTTP_PORT=free_port(), METRICS_PORT=0)


def secret_files(settings: Settings) -> dict[str, str]:
    values = {}
    for leaf in leaves():
        value = leaf.value(settings)
        if leaf.name in SECRET_SETTINGS and isinstance(value, SecretStr):
            values[leaf.variable] = value.get_secret_value()
    return values


def start_instance(podman_run: PodmanRun, settings: Settings, created: list[str]) -> str:
    """The instance in a container as the podman backend runs it (read-only, no capabilities, secrets as files
    readable by its user only); returns its name. `created` collects the podman secrets made for it as they are
    made, so that the caller removes them even when the start fails."""
    suffix = secrets.token_hex(4)
    options = [
        "--network", "host", "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",
        "--tmpfs", "/run/secrets:rw,noexec,nosuid,nodev,size=64k,mode=0755",
        "--cap-drop", "all", "--security-opt", "no-new-privileges", "--env", "TALLYHOLD_SECRETS_DIR=/run/secrets",
    ]  # fmt: skip
    for name, value in secret_files(settings).items():
        secret = f"tallyhold-test-{suffix}-{name.lower()}"
        created.append(secret)
        podman("secret", "create", secret, "-", stdin=value)
        options += ["--secret", f"{secret},type=mount,target={name},uid={UID},gid={UID},mode=0400"]
    secret_names = {f"TALLYHOLD_{name}" for name in SECRET_SETTINGS}
    for key, value in settings_env(settings).items():
        if key.startswith("TALLYHOLD_") and key not in secret_names:
            options += ["--env", f"{key}={value}"]
    # As the podman backend starts it (podman/spec.py): `python -OO -X no_debug_ranges -m tallyhold.serve`.
    return podman_run.start(*options, "--entrypoint", INSTANCE_ENTRYPOINT, command=INSTANCE_ARGS)


async def wait_ready(base: str, container: str, deadline: float = 60.0) -> dict[str, Any]:
    limit = time.monotonic() + deadline
    async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
        while True:
            try:
                ready = await probe.get("/readyz")
                if ready.status_code == 200:
                    return dict(ready.json())
            except httpx.TransportError:
                pass
            if time.monotonic() > limit:
                pytest.fail(f"the instance did not become ready; its log:\n{podman('logs', container).stderr[-3000:]}")
            await asyncio.sleep(0.2)


async def test_instance_in_the_image_serves_and_syncs(
    settings: Settings, podman_run: PodmanRun, sandbox: Sandbox, clean_tenant: None
) -> None:
    created_secrets: list[str] = []
    name = ""
    try:
        name = start_instance(podman_run, settings, created_secrets)
        base = f"http://127.0.0.1:{settings.http.port}"
        ready = await wait_ready(base, name)
        assert ready["database"] == "ok", ready
        assert ready["vault"] == "ok", ready
        # One read-only key on every sandbox venue, each in the venue's own format: the image's ccxt (slimmed,
        # tools/image/slim_venv.py) signs for each of them and reads their balances.
        venues = sorted(sandbox.urls)
        keys = {venue: generate(venue) for venue in venues}
        for venue, key in keys.items():
            control = sandbox.control(venue)
            wallet = control.state.wallet_names[0]  # each venue's first account (spot, unified, …)
            control.add_key(
                key.api_key, key.secret, permissions=["read"], passphrase=key.passphrase,
                balances={wallet: {"BTC": "0.5", "ETH": "3"}},
            )  # fmt: skip
        headers = {"Authorization": f"Bearer {await issue_token(settings, 'image test')}"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as api:
            assert (await api.get("/healthz")).status_code == 200
            for venue, key in keys.items():
                body = {"exchange": venue, "label": venue, "api_key": key.api_key, "api_secret": key.secret}
                if key.passphrase is not None:
                    body["passphrase"] = key.passphrase
                created = await api.post("/v1/connections/exchange", json=body)
                assert created.status_code == 201, (venue, created.text)
            assert (await api.post("/v1/sync")).status_code == 202
            status = await wait_idle(api)
            assert {source["venue"]: source["state"] for source in status["sources"]} == dict.fromkeys(venues, "ok")
            balances = (await api.get("/v1/balances", params={"group_by": "asset"})).json()
            count = len(venues)
            expected = {"BTC": str(Decimal("0.5") * count), "ETH": str(3 * count)}
            assert {item["asset"]: item["amount"] for item in balances["items"]} == expected
        assert podman("healthcheck", "run", name, check=False).returncode == 0
        # `tallyhold migrate` from the same image (alembic, bytecode only, walks every revision of the tracker).
        migrated = podman("exec", name, "tallyhold", "migrate", check=False)
        assert (migrated.returncode, migrated.stdout.strip()) == (0, "migrated"), migrated.stderr[-2000:]
        # No secret in what podman shows of the container, nor in its log.
        shown = podman("inspect", name).stdout + podman("logs", name).stdout + podman("logs", name).stderr
        api_secrets = [key.secret for key in keys.values()]
        for value in (*secret_files(settings).values(), *api_secrets, headers["Authorization"].split()[1]):
            assert value not in shown
    finally:
        if name:
            podman("rm", "--force", "--time", "0", name, check=False)
        for secret in created_secrets:
            podman("secret", "rm", secret, check=False)


def run_in_image(image: str, entrypoint: str, *args: str) -> str:
    """A command in a container of the image with no network and a read-only root; its standard output."""
    return podman(
        "run", "--rm", "--network", "none", "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp",
        "--entrypoint", entrypoint, image, *args,
    ).stdout  # fmt: skip


# What the running tracker loads, loaded inside the image (its third-party packages are slimmed: sources compiled
# away, test suites and ccxt.pro removed; tools/image/slim_venv.py): every module of the tracker's package, and
# for every supported venue and every default price venue the ccxt class the egress worker builds, with the
# endpoint declarations the transport guard reads and the error classes the adapter maps.
IMPORT_PROBE = """
import importlib, json, pkgutil
import tallyhold
modules = sorted(m.name for m in pkgutil.walk_packages(tallyhold.__path__, "tallyhold."))
for module in set(modules) - {"tallyhold.migrations.env"}:  # alembic's script: alembic runs it, nobody imports it
    importlib.import_module(module)
import ccxt
from ccxt.base.types import Entry
from Crypto.Hash import keccak
from tallyhold.exchanges.denylist import denied
from tallyhold.exchanges.guard import TransportGuard, endpoints_of, request_cost
from tallyhold.exchanges.registry import ADAPTERS
from tallyhold.exchanges.session import exchange_class
from tallyhold.settings import PriceSettings
venues = {}
for venue, adapter in ADAPTERS.items():
    klass = exchange_class(venue)
    allowed = endpoints_of(klass, adapter.methods)
    TransportGuard(allowed, endpoints_of(klass, sorted(denied(venue))))
    request_cost(klass, adapter.methods)
    errors = [getattr(ccxt, name) for name in adapter.unmapped_errors.values()]
    venues[venue] = {"class": type(klass({})).__module__, "endpoints": len(allowed), "errors": len(errors)}
defaults = PriceSettings.model_fields["venues"].get_default(call_default_factory=True)
prices = [exchange_class(venue).__module__ for venue in defaults]
keccak.new(digest_bits=256).update(b"").hexdigest()
print(json.dumps({"modules": modules, "venues": venues, "prices": prices}))
"""


def test_every_module_and_venue_adapter_loads_in_the_image(tracker_image: str) -> None:
    loaded = json.loads(run_in_image(tracker_image, "python", "-c", IMPORT_PROBE))
    assert loaded["modules"] == sorted(m.name for m in pkgutil.walk_packages(tallyhold.__path__, "tallyhold."))
    expected = {
        venue: {
            "class": f"ccxt.async_support.{venue}",
            "endpoints": len(endpoints_of(exchange_class(venue), adapter.methods)),
            "errors": len(adapter.unmapped_errors),
        }
        for venue, adapter in ADAPTERS.items()
    }
    assert loaded["venues"] == expected
    defaults = PriceSettings.model_fields["venues"].get_default(call_default_factory=True)
    assert loaded["prices"] == [f"ccxt.async_support.{venue}" for venue in defaults]


# Without `-OO` in the image too: the libraries' bytecode has none (tools/image/slim_venv.py), and no process of
# the image may miss them. The instance's document equals the checkout's, served with every docstring.
LIBRARY_DOCSTRINGS = "import fastapi, sqlalchemy.orm; print(fastapi.FastAPI.__doc__, sqlalchemy.orm.Session.__doc__)"


def test_the_instance_runs_without_docstrings_and_compiles_nothing_yet_serves_every_description(
    tracker_image: str,
) -> None:
    # Every module the instance imports from Tallyhold's package and the standard library (both with their
    # sources) has its `.opt-2.pyc`, fresh: nothing is compiled at start on the read-only root.
    checked = json.loads(
        run_in_image(
            tracker_image, "python", *INSTANCE_OPTIONS, "-c", INSTANCE_IMPORTS + bytecode_check("purelib", "stdlib")
        )
    )
    assert checked["loaded"] > 300, checked  # Tallyhold's modules and asyncio, email, ssl, ...: the check saw them
    assert checked["problems"] == {}
    served = json.loads(run_in_image(tracker_image, "python", *INSTANCE_OPTIONS, "-c", SERVED_DOCUMENT))
    host = served_document()
    assert (served["optimize"], host["optimize"]) == (2, 0)
    assert served["status"] == host["status"] == 200
    assert served["document"] == host["document"]
    # The libraries' docstrings are gone for every process of the image (their bytecode has none), while the
    # command line's help, Tallyhold's own docstrings, stays.
    assert run_in_image(tracker_image, "python", "-c", LIBRARY_DOCSTRINGS).split() == ["None", "None"]
    assert "Access tokens for the instance's API." in run_in_image(tracker_image, "tallyhold", "token", "--help")


# The egress worker's start inside the image, as it prepares itself (egress/worker.py): its loaders read library
# files the image slims (tools/image/slim_venv.py), so an xpub scan and an EVM request must work there too, and
# still without the coins and the BLS tables they never use: bip_utils' names from its kept `__init__` sources
# (tallyhold/lazy_packages.py), py_ecc's curve order from its bytecode (egress/keyfile_bls.py).
# BLS12-381's group order r, as the curve's specification gives it.
BLS12_381_CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
WORKER_JOBS = """
import asyncio, json, sys
from tallyhold.egress import worker
worker.prepare_imports()
from tallyhold.chains.hdkeys import XpubDeriver
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressConfig, EgressError
addresses = [XpubDeriver(sys.argv[1]).address(chain, i) for chain in (0, 1) for i in range(3)]
config = EgressConfig(customer_id="t_00000000000000ff", log_level="WARNING")
try:
    asyncio.run(dispatch("chain.balances", {"chain": "ethereum", "address": "0x" + "11" * 20}, config))
    evm = "ok"
except EgressError as error:
    evm = error.code
import eth_keyfile.keyfile
unused = ("bip_utils.monero", "bip_utils.cardano", "bip_utils.ton", "py_ecc.bls", "py_ecc.optimized_bls12_381")
print(json.dumps({"addresses": addresses, "evm": evm, "web3": "web3" in sys.modules,
                  "curve_order": str(eth_keyfile.keyfile.curve_order),
                  "loaded": [m for m in unused if m in sys.modules]}))
"""


def test_the_egress_worker_reads_xpubs_and_evm_wallets_in_the_image_without_the_unused_libraries(
    tracker_image: str,
) -> None:
    wallet = SeedWallet("zpub")
    found = json.loads(run_in_image(tracker_image, "python", "-c", WORKER_JOBS, wallet.extended_public_key))
    assert found == {
        "addresses": [wallet.address(chain, i) for chain in (0, 1) for i in range(3)],
        "evm": "chain_not_configured",  # web3 loaded and the request reached its check, before any network
        "web3": True,
        "curve_order": str(BLS12_381_CURVE_ORDER),
        "loaded": [],
    }
