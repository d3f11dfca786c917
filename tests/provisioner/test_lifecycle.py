"""Provisioning lifecycle: create converges and is idempotent, a crash between any two
steps is finished by a rerun, destroy is idempotent and leaves nothing behind, and a destroyed customer's
ciphertexts can never be decrypted again (crypto-shredding). Two concurrent creates make one stack."""

from __future__ import annotations

import json
import pwd
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import hvac
import hvac.exceptions
import pytest

from tallyhold.credentials.context import b64encode, derivation_context
from tallyhold_provision import tenant_vault
from tallyhold_provision.errors import ProvisionError
from tallyhold_provision.local.osuser import instance_user_name
from tallyhold_provision.registry import Customer, State
from tallyhold_provision.tenant_vault import TenantVault
from tests.fixtures.provisioner import TENANT_DATABASE, ControlPlane

CREATE_STEPS = ("registry", "database", "migrations", "vault", "instance", "first_token", "finish")
CRASH_EXIT = 70


def _vault_objects(plane: ControlPlane, customer_id: str) -> dict[str, bool]:
    admin = plane.openbao.admin_client()
    key = admin.secrets.transit.list_keys()["data"]["keys"] if _has_keys(admin) else []
    roles = admin.list("auth/approle/role") or {"data": {"keys": []}}
    policies = admin.sys.list_acl_policies()["data"]["keys"]
    names = TenantVault.for_customer(customer_id)
    entities = tenant_vault.tenant_entities(admin, names)
    return {
        "key": customer_id in key,
        "role": customer_id in roles["data"]["keys"],
        "policy": any(customer_id in policy for policy in policies),
        # Its instance's logins: the identity entity and alias they made, and live tokens.
        "identity": bool(entities),
        "tokens": bool(tenant_vault.tenant_token_accessors(admin, names, entities)),
    }


def _has_keys(admin: hvac.Client) -> bool:
    try:
        admin.secrets.transit.list_keys()
    except hvac.exceptions.InvalidPath:
        return False
    return True


def _database_objects(plane: ControlPlane, customer_id: str) -> dict[str, int]:
    with plane.postgres.connect(TENANT_DATABASE) as admin:
        roles = admin.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE %s", (customer_id + "%",)).fetchone()
        schemas = admin.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (customer_id,)).fetchone()
    with plane.postgres.connect() as admin:
        rows = admin.execute(
            "SELECT count(*) FROM tallyhold_registry.customers WHERE id = %s", (customer_id,)
        ).fetchone()
    assert roles is not None
    assert schemas is not None
    assert rows is not None
    return {"roles": int(str(roles[0])), "schemas": int(str(schemas[0])), "registry": int(str(rows[0]))}


def _leftovers(plane: ControlPlane, customer_id: str) -> list[str]:
    found = [f"vault {name}" for name, present in _vault_objects(plane, customer_id).items() if present]
    found += [f"postgres {name}" for name, count in _database_objects(plane, customer_id).items() if count]
    if customer_id in plane.supervisor.program_names():
        found.append("supervisord program")
    for path in (plane.state_dir / "instances" / customer_id, plane.state_dir / "supervisor" / "conf.d"):
        if path.exists() and any(customer_id in p.name for p in [path, *path.iterdir()]):
            found.append(str(path))
    if any((plane.state_dir / "logs").glob(f"{customer_id}*")):
        found.append("log file")
    try:
        pwd.getpwnam(instance_user_name(customer_id))
        found.append("OS user")
    except KeyError:
        pass
    return found


def test_create_twice_changes_nothing(control_plane: ControlPlane) -> None:
    with control_plane.provisioner() as provisioner:
        first = provisioner.create("twice-co", backend="local", owner_email="owner@example.com")
        try:
            assert first.created
            assert first.token
            customer = provisioner.get("twice-co")
            pid = control_plane.supervisor.pid(customer.id)
            key_before = control_plane.openbao.admin_client().secrets.transit.read_key(name=customer.id)["data"]
            conf_file = control_plane.state_dir / "supervisor" / "conf.d" / f"{customer.id}.conf"
            env_file = control_plane.state_dir / "instances" / customer.id / "env.json"
            conf, env = conf_file.stat().st_mtime_ns, env_file.stat().st_mtime_ns

            second = provisioner.create("twice-co", backend="local", owner_email="owner@example.com")

            assert not second.created
            assert second.token is None  # a token is shown on first creation only
            assert second.customer.id == customer.id
            assert second.customer.updated_at == customer.updated_at  # no registry column changed
            assert control_plane.supervisor.pid(customer.id) == pid  # the instance was not restarted
            key_after = control_plane.openbao.admin_client().secrets.transit.read_key(name=customer.id)["data"]
            assert key_after["latest_version"] == key_before["latest_version"] == 1
            assert conf_file.stat().st_mtime_ns == conf
            assert env_file.stat().st_mtime_ns == env
            assert _database_objects(control_plane, customer.id) == {"roles": 2, "schemas": 1, "registry": 1}
            provisioner.registry.trim_journal(customer, 3)
            assert len(provisioner.registry.journal(customer)) == 3
        finally:
            provisioner.destroy("twice-co")


def test_destroy_removes_everything_and_shreds_ciphertexts(control_plane: ControlPlane) -> None:
    with control_plane.provisioner() as provisioner:
        result = provisioner.create("doomed-co", backend="local")
        customer = result.customer
        assert result.token
        # A ciphertext made by the customer's own identity, as its instance would store it.
        tenant = control_plane.tenant_login(customer)
        context = derivation_context(customer.id, "00000000-0000-0000-0000-000000000002", "api_secret")
        ciphertext = tenant.secrets.transit.encrypt_data(
            name=customer.id, plaintext=b64encode(b"exchange secret"), context=context
        )["data"]["ciphertext"]
        url = customer.url
        assert url
        found = _vault_objects(control_plane, customer.id)
        assert found["identity"]
        assert found["tokens"]

        gone = provisioner.destroy("doomed-co")
        assert gone is not None
        assert gone.id == customer.id
        assert provisioner.destroy("doomed-co") is None  # twice: nothing left to do, no error

    assert _leftovers(control_plane, customer.id) == []
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=2)
    admin = control_plane.openbao.admin_client()
    with pytest.raises(hvac.exceptions.VaultError):
        admin.secrets.transit.decrypt_data(name=customer.id, ciphertext=ciphertext, context=context)
    with pytest.raises(hvac.exceptions.Forbidden):  # its token was revoked
        tenant.auth.token.lookup_self()
    # Even a new key under the same name is new key material: the old ciphertext stays unreadable.
    admin.secrets.transit.create_key(name=customer.id, derived=True)
    try:
        with pytest.raises(hvac.exceptions.InvalidRequest):
            admin.secrets.transit.decrypt_data(name=customer.id, ciphertext=ciphertext, context=context)
    finally:
        admin.secrets.transit.update_key_configuration(name=customer.id, deletion_allowed=True)
        admin.secrets.transit.delete_key(name=customer.id)


class Crash(BaseException):
    """Stands in for the process dying: nothing in the provisioner catches a BaseException."""


def _crash_after(step: str) -> Callable[[str], None]:
    def hook(done: str) -> None:
        if done == step:
            raise Crash(step)

    return hook


@pytest.mark.parametrize("step", CREATE_STEPS)
def test_a_crash_between_steps_then_a_rerun_converges(control_plane: ControlPlane, step: str) -> None:
    slug = f"crash-{step.replace('_', '-')}"
    with control_plane.provisioner(after_step=_crash_after(step)) as crashing, pytest.raises(Crash):
        crashing.create(slug, backend="local")
    _rerun_converges(control_plane, slug, step)


def test_a_real_crash_releases_the_lock_and_a_rerun_converges(control_plane: ControlPlane) -> None:
    """The same, with the process really gone (os._exit: no finally, no clean-up, the lock dies with its
    connection) in the middle of the steps."""
    code = (
        "import os, sys\n"
        "from tallyhold_provision.config import ProvisionerSettings\n"
        "from tallyhold_provision.factory import build\n"
        f"crash = lambda done: os._exit({CRASH_EXIT}) if done == 'vault' else None\n"
        "build(ProvisionerSettings(), after_step=crash).create('crash-real', backend='local')\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", code], env=control_plane.env(), capture_output=True, text=True, timeout=300
    )
    assert crashed.returncode == CRASH_EXIT, crashed.stderr[-2000:]
    status = subprocess.run(
        [*control_plane.cli(), "status", "crash-real", "--json"],
        env=control_plane.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert status.returncode == 1
    report = json.loads(status.stdout)
    assert report["state"] == "provisioning"
    assert report["last_step"]["operation"] == "create"
    assert report["last_step"]["step"] == "vault"
    assert report["last_step"]["event"] == "done"
    _rerun_converges(control_plane, "crash-real", "vault")


def _rerun_converges(control_plane: ControlPlane, slug: str, step: str) -> None:
    with control_plane.provisioner() as provisioner:
        interrupted = provisioner.get(slug)
        if step != "finish":
            assert interrupted.state is State.provisioning
        try:
            rerun = provisioner.create(slug, backend="local")
            customer = rerun.customer
            assert customer.id == interrupted.id
            assert customer.state is State.active
            # The first token was never shown if the crash came before the end: the rerun shows one.
            assert (rerun.token is not None) == (step != "finish")
            _assert_serving(control_plane, customer, rerun.token)
            assert _database_objects(control_plane, customer.id) == {"roles": 2, "schemas": 1, "registry": 1}
            assert _vault_objects(control_plane, customer.id) == {
                "key": True,
                "role": True,
                "policy": False,
                "identity": True,
                "tokens": True,
            }
        finally:
            provisioner.destroy(slug)
    assert _leftovers(control_plane, interrupted.id) == []


def _assert_serving(plane: ControlPlane, customer: Customer, token: str | None) -> None:
    assert customer.url
    if token is None:
        with plane.provisioner() as provisioner:
            token = provisioner.token(customer.slug, "test")[1].token
    response = httpx.get(f"{customer.url}/v1/networth", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text


def test_a_crash_during_destroy_then_a_rerun_finishes(control_plane: ControlPlane) -> None:
    with control_plane.provisioner() as provisioner:
        customer = provisioner.create("half-gone", backend="local").customer
    with control_plane.provisioner(after_step=_crash_after("vault")) as crashing, pytest.raises(Crash):
        crashing.destroy("half-gone")
    with control_plane.provisioner() as provisioner:
        assert provisioner.get("half-gone").state is State.destroying
        with pytest.raises(ProvisionError, match="being destroyed"):
            provisioner.create("half-gone", backend="local")
        assert provisioner.destroy("half-gone") is not None
    assert _leftovers(control_plane, customer.id) == []


def test_two_concurrent_creates_make_one_stack(control_plane: ControlPlane) -> None:
    command = [*control_plane.cli(), "create", "race-co", "--json"]
    runs = [
        subprocess.Popen(command, env=control_plane.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    try:
        assert [run.returncode for run in runs] == [0, 0], [err[-1000:] for _, err in outputs]
        results = [json.loads(out) for out, _ in outputs]
        assert results[0]["id"] == results[1]["id"]
        assert sorted(r["created"] for r in results) == [False, True]
        assert sum(r["token"] is not None for r in results) == 1
        customer_id = results[0]["id"]
        assert _database_objects(control_plane, customer_id) == {"roles": 2, "schemas": 1, "registry": 1}
        with control_plane.postgres.connect() as admin:
            rows = admin.execute("SELECT count(*) FROM tallyhold_registry.customers WHERE slug = 'race-co'").fetchone()
        assert rows == (1,)
        programs = [name for name in control_plane.supervisor.program_names() if name == customer_id]
        assert programs == [customer_id]
    finally:
        with control_plane.provisioner() as provisioner:
            provisioner.destroy("race-co")


def test_state_files_are_private(control_plane: ControlPlane) -> None:
    with control_plane.provisioner() as provisioner:
        customer = provisioner.create("private-co", backend="local").customer
        try:
            folder = control_plane.state_dir / "instances" / customer.id
            user = pwd.getpwnam(instance_user_name(customer.id))
            owners = {
                folder: (0, user.pw_gid, 0o750),  # the instance reads it, cannot add or rename in it
                folder / "env.json": (user.pw_uid, user.pw_gid, 0o600),
                folder / "secrets.json": (0, 0, 0o600),
                folder / "run": (user.pw_uid, user.pw_gid, 0o700),
                folder.parent: (0, 0, 0o711),
            }
            for path, (uid, gid, mode) in owners.items():
                found = path.stat()
                assert (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) == (uid, gid, mode), path
            conf = control_plane.state_dir / "supervisor" / "conf.d" / f"{customer.id}.conf"
            # Secrets live in the env file only, never in supervisord's configuration.
            assert "TALLYHOLD" not in conf.read_text()
            assert Path(control_plane.state_dir / "supervisor" / "supervisord.sock").stat().st_mode & 0o077 == 0
        finally:
            provisioner.destroy("private-co")


def _vault_status(control_plane: ControlPlane, slug: str) -> dict[str, object]:
    status = subprocess.run(
        [*control_plane.cli(), "status", slug, "--json"],
        env=control_plane.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    part: dict[str, object] = json.loads(status.stdout)["parts"]["vault"]
    return part


def test_a_secret_id_minted_with_the_provisioners_login_shows_in_status_and_converge_retires_it(
    control_plane: ControlPlane,
) -> None:
    addr = control_plane.openbao.addr
    with control_plane.provisioner() as provisioner:
        provisioner.create("extra-id-co", backend="local", owner_email="owner@example.com")
        try:
            customer = provisioner.get("extra-id-co")
            assert _vault_status(control_plane, "extra-id-co")["healthy"] is True
            # What a stolen provisioner login allows: a wrapped secret id of the tenant's role, unwrapped by the
            # provisioner itself, logging in as the tenant from the instances' address.
            vault = control_plane.vault()
            extra = tenant_vault.wrapped_secret_id(vault.client, TenantVault.for_customer(customer.id))
            stolen = str(vault.client.sys.unwrap(token=extra.wrapping_token)["data"]["secret_id"])
            hvac.Client(url=addr, token="").auth.approle.login(customer.id, stolen)

            part = _vault_status(control_plane, "extra-id-co")
            assert (part["healthy"], part["state"]) == (False, "misconfigured")
            assert part["detail"] == "extra secret ids: 1 besides the instance's own"

            provisioner.upgrade(["extra-id-co"])
            assert _vault_status(control_plane, "extra-id-co")["healthy"] is True
            with pytest.raises(hvac.exceptions.InvalidRequest):
                hvac.Client(url=addr, token="").auth.approle.login(customer.id, stolen)
            control_plane.tenant_login(customer)  # the instance's own secret id still works
        finally:
            provisioner.destroy("extra-id-co")
