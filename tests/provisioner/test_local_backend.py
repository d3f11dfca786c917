"""The local backend: each instance a supervisord program with its own ports and log file, restarted when it
crashes, started with the operator's TALLYHOLD_ variables but never with another customer's identity."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tallyhold_provision.config import config_table
from tallyhold_provision.instance_env import PROTECTED, instance_environment, passthrough
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.launch import child_environment
from tallyhold_provision.local.postgres import MAX_CONNECTIONS
from tallyhold_provision.local.supervisor import Program, supervisord_environment
from tallyhold_provision.naming import TenantNames
from tallyhold_provision.registry import Customer
from tests.fixtures.provisioner import INSTANCE_ENVIRON, ControlPlane

# A made-up database password (a URL holding one is what these tests handle); not a credential of anything.
FAKE_PASSWORD = "else"

OPERATOR_ENVIRON = {
    **INSTANCE_ENVIRON,
    "TALLYHOLD_QUOTE_CURRENCY": "EUR",  # passed through
    "TALLYHOLD_DATABASE_URL": f"postgresql://someone:{FAKE_PASSWORD}@127.0.0.1:1/other",  # never: identity
    "TALLYHOLD_CUSTOMER_ID": "t_00000000deadbeef",  # never: identity
    "TALLYHOLD_PROVISIONER_TENANT_DATABASE": "x",  # the provisioner's own setting
    "TALLYHOLD_STATE_DIR": "/nowhere",  # make run's own setting
}


@pytest.fixture(scope="module")
def local(control_plane: ControlPlane) -> Iterator[tuple[Customer, str]]:
    with control_plane.provisioner(environ=OPERATOR_ENVIRON) as provisioner:
        result = provisioner.create("local-co", backend="local")
        assert result.token is not None
        try:
            yield result.customer, result.token
        finally:
            provisioner.destroy("local-co")


def _env(plane: ControlPlane, customer: Customer) -> dict[str, str]:
    return dict(json.loads((plane.state_dir / "instances" / customer.id / "env.json").read_text()))


def test_operator_variables_pass_through_but_identity_does_not(control_plane: ControlPlane, local) -> None:
    customer, token = local
    env = _env(control_plane, customer)
    assert env["TALLYHOLD_QUOTE_CURRENCY"] == "EUR"
    assert env["TALLYHOLD_CUSTOMER_ID"] == customer.id
    assert f"{customer.names.app_role}:" in env["TALLYHOLD_DATABASE_URL"]
    assert not [key for key in env if key.startswith("TALLYHOLD_PROVISIONER_") or key == "TALLYHOLD_STATE_DIR"]
    networth = httpx.get(f"{customer.url}/v1/networth", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert networth.json()["quote"] == "EUR"  # the running instance got it


def test_own_ports_and_log_file(control_plane: ControlPlane, local) -> None:
    customer, _ = local
    env = _env(control_plane, customer)
    assert customer.url == f"http://127.0.0.1:{env['TALLYHOLD_HTTP_PORT']}"
    assert customer.metrics_url == f"http://127.0.0.1:{env['TALLYHOLD_METRICS_PORT']}/metrics"
    assert customer.backend_state == {
        "http_port": int(env["TALLYHOLD_HTTP_PORT"]),
        "metrics_port": int(env["TALLYHOLD_METRICS_PORT"]),
    }
    log = control_plane.state_dir / "logs" / f"{customer.id}.log"
    assert log.stat().st_size > 0


def test_a_crashed_instance_is_restarted(control_plane: ControlPlane, local) -> None:
    customer, _ = local
    supervisor = control_plane.supervisor
    pid = supervisor.pid(customer.id)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        new_pid = supervisor.pid(customer.id)
        if new_pid not in (None, pid) and supervisor.state(customer.id) == "RUNNING":
            try:
                if httpx.get(f"{customer.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, "supervisord did not bring the instance back"
        time.sleep(0.1)


def test_a_changed_environment_is_applied_by_the_next_create(control_plane: ControlPlane, local) -> None:
    customer, token = local
    before = control_plane.supervisor.pid(customer.id)
    with control_plane.provisioner(environ={**OPERATOR_ENVIRON, "TALLYHOLD_QUOTE_CURRENCY": "GBP"}) as provisioner:
        provisioner.create("local-co", backend="local")
    assert control_plane.supervisor.pid(customer.id) != before  # restarted onto the new settings
    networth = httpx.get(f"{customer.url}/v1/networth", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert networth.json()["quote"] == "GBP"


def test_passthrough_rules() -> None:
    names = TenantNames("t_0123456789abcdef")
    environ = {
        "TALLYHOLD_EVM_RPC_ETHEREUM": "http://rpc",
        "TALLYHOLD_ENV": "development",
        "TALLYHOLD_VAULT_SECRET_ID": "someone-elses",
        "TALLYHOLD_PROVISIONER_VAULT_TOKEN": "the-provisioners",
        "PATH": "/bin",
    }
    assert passthrough(environ) == {"TALLYHOLD_EVM_RPC_ETHEREUM": "http://rpc", "TALLYHOLD_ENV": "development"}
    env = instance_environment(names, "postgresql://a:b@h/d", None, environ)
    assert env["TALLYHOLD_ENV"] == "development"  # the operator's value wins over the default
    assert env["TALLYHOLD_DATABASE_URL"] == "postgresql://a:b@h/d"
    assert "TALLYHOLD_VAULT_SECRET_ID" not in env
    assert "PATH" not in env
    assert "TALLYHOLD_DATABASE_URL" in PROTECTED


def test_the_launcher_drops_inherited_tallyhold_variables(tmp_path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"TALLYHOLD_CUSTOMER_ID": "t_0123456789abcdef"}))
    child = child_environment(env_file, {"PATH": "/bin", "TALLYHOLD_VAULT_TOKEN": "inherited"})
    assert child == {
        "PATH": "/bin",
        "TALLYHOLD_CUSTOMER_ID": "t_0123456789abcdef",
        "MALLOC_ARENA_MAX": "2",
        "PYTHONOPTIMIZE": "2",
        "PYTHONNODEBUGRANGES": "1",
    }


def test_the_launcher_caps_malloc_arenas_and_drops_docstrings_unless_the_operator_chose(tmp_path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"TALLYHOLD_CUSTOMER_ID": "t_0123456789abcdef"}))
    assert child_environment(env_file, {})["MALLOC_ARENA_MAX"] == "2"
    assert child_environment(env_file, {"MALLOC_ARENA_MAX": "4"})["MALLOC_ARENA_MAX"] == "4"
    assert child_environment(env_file, {})["PYTHONOPTIMIZE"] == "2"
    assert child_environment(env_file, {"PYTHONOPTIMIZE": "0"})["PYTHONOPTIMIZE"] == "0"
    assert child_environment(env_file, {})["PYTHONNODEBUGRANGES"] == "1"


def test_supervisor_values_are_escaped(tmp_path) -> None:
    program = Program("t_0123456789abcdef", ["/usr/bin/env", "50%"], tmp_path / "a%b", tmp_path / "log", True)
    text = program.config()
    assert "command=/usr/bin/env 50%%" in text
    assert "a%%b" in text
    with pytest.raises(ValueError, match="span lines"):
        Program("t_0123456789abcdef", ["x\ny"], tmp_path, tmp_path / "log", True).config()


def test_readme_operator_configuration_table_matches_settings() -> None:
    readme = (checkout_root() / "README.md").read_text()
    pattern = r"<!-- provisioner-config-table:start -->\n(.*?)<!-- provisioner-config-table:end -->"
    match = re.search(pattern, readme, re.S)
    assert match, "README.md lost its operator configuration table markers"
    assert match.group(1) == config_table(), "regenerate it: tallyhold-provision config-table"


def test_the_platform_is_sized_for_hundreds_of_customers(
    local: tuple[Customer, str], control_plane: ControlPlane
) -> None:
    """Postgres's connection slots and supervisord's file descriptors are what run out first on a host of many
    customers (bench/bench_capacity.py); both are set by the platform, whatever the cluster's old config says."""
    with control_plane.postgres.connect() as connection:
        found = connection.execute("SHOW max_connections").fetchone()
    assert found is not None
    assert int(str(found[0])) == MAX_CONNECTIONS
    # supervisord raises its own soft limit to `minfds` at start (this machine's is higher already).
    assert "minfds=8192" in control_plane.supervisor.conf_file.read_text().splitlines()


def test_only_an_allow_list_of_the_operators_environment_reaches_the_instances() -> None:
    """supervisord passes its environment to every program it runs: the operator's shell's credentials must not
    reach the customers' instances (the launcher drops only TALLYHOLD_ variables)."""
    operator = {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
        "VAULT_TOKEN": "hvs.operator-root-token",
        "AWS_SECRET_ACCESS_KEY": "operator-aws-secret",
        "PGPASSWORD": "operator-postgres-password",
        "TALLYHOLD_PROVISIONER_VAULT_TOKEN": "hvs.provisioner-token",
    }
    assert supervisord_environment(operator) == {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "HTTPS_PROXY": "http://proxy:3128",
    }
