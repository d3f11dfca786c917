"""The local platform's OpenBao keeps no root token (a root token left on disk would
bypass every policy): the first bootstrap revokes the initial root
token and deletes its file, every provisioner command then works with the provisioner's own AppRole login, and
`break-glass` makes a root token from the unseal key that expires, leaving no other root token behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.local.supervisor import Supervisor
from tests.fixtures.provisioner import INSTANCE_ENVIRON, TENANT_DATABASE


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    state = Path(tmp_path_factory.mktemp("rootless"))
    created = LocalPlatform(state)
    try:
        yield created
    finally:
        Supervisor(state / "supervisor").shutdown()
        created.openbao.stop()


def _cli(platform: LocalPlatform, postgres: LocalPostgres, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLYHOLD_")}
    env |= {
        **INSTANCE_ENVIRON,
        "TALLYHOLD_PROVISIONER_STATE_DIR": str(platform.state_dir),
        "TALLYHOLD_PROVISIONER_ADMIN_DATABASE_URL": postgres.url(),
        "TALLYHOLD_PROVISIONER_TENANT_DATABASE": TENANT_DATABASE,
        "TALLYHOLD_PROVISIONER_HEALTH_TIMEOUT_SECONDS": "90",
    }  # no VAULT_ADDR: the local OpenBao of the state folder
    command = [str(Path(sys.executable).with_name("tallyhold-provision")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_root_is_revoked_after_bootstrap_and_every_command_works(
    platform: LocalPlatform, postgres: LocalPostgres
) -> None:
    platform.openbao.start()  # initialises: the initial root token is written
    root = platform.openbao.root_token
    assert hvac.Client(url=platform.openbao.addr, token=root).auth.token.lookup_self()["data"]["policies"] == ["root"]

    created = _cli(platform, postgres, "create", "rootless-co", "--json")
    assert created.returncode == 0, created.stderr[-2000:]
    assert json.loads(created.stdout)["token"]
    assert not platform.openbao.root_token_file.exists()
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=platform.openbao.addr, token=root).auth.token.lookup_self()

    for command in (
        ("status", "rootless-co"),
        ("token", "rootless-co"),
        ("rotate-key", "rootless-co"),
        ("suspend", "rootless-co"),
        ("resume", "rootless-co"),
        ("upgrade", "rootless-co"),
        ("create", "rootless-co"),
        ("destroy", "rootless-co", "--yes"),
    ):
        result = _cli(platform, postgres, *command)
        assert result.returncode == 0, (command, result.stdout[-1000:], result.stderr[-2000:])
    assert not platform.openbao.root_token_file.exists()


def test_break_glass_gives_a_root_token_that_expires(platform: LocalPlatform, postgres: LocalPostgres) -> None:
    result = _cli(platform, postgres, "break-glass", "--ttl-minutes", "5")
    assert result.returncode == 0, result.stderr[-2000:]
    token = result.stdout.split("root_token: ", 1)[1].strip()
    data = hvac.Client(url=platform.openbao.addr, token=token).auth.token.lookup_self()["data"]
    assert data["policies"] == ["root"]
    assert 0 < data["ttl"] <= 300
    assert data["renewable"] is False
    # The root token generated to make it was revoked: the only root token left is this one.
    accessors = hvac.Client(url=platform.openbao.addr, token=token).list("auth/token/accessors")["data"]["keys"]
    admin = hvac.Client(url=platform.openbao.addr, token=token)
    roots = [
        accessor
        for accessor in accessors
        if "root" in admin.write_data("auth/token/lookup-accessor", data={"accessor": accessor})["data"]["policies"]
    ]
    assert roots == [data["accessor"]]
    assert not platform.openbao.root_token_file.exists()
