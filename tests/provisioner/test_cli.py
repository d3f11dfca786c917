"""`tallyhold-provision` as an operator runs it: a subprocess configured by TALLYHOLD_PROVISIONER_* variables,
one line on stderr for every error, `--json` on stdout, exit codes as documented."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import hvac.exceptions
import pytest
import yaml
from psycopg import sql

from tallyhold.credentials.context import b64decode, b64encode, derivation_context
from tallyhold_provision.local.forkserver import PROGRAM as FORKSERVER
from tallyhold_provision.operations import PASSWORD_KEY, WRAPPED_SECRET_ID_KEY
from tallyhold_provision.registry import Customer
from tests.fixtures.provisioner import TENANT_DATABASE, ControlPlane

SLUGS = ("cli-one", "cli-two")


def cli(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*plane.cli(), *args], env=plane.env(), capture_output=True, text=True, timeout=300, check=False
    )


def cli_json(plane: ControlPlane, *args: str) -> Any:
    result = cli(plane, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def created(control_plane: ControlPlane) -> Iterator[dict[str, dict[str, Any]]]:
    # One through the CLI (what these tests are about), the other in-process (faster, same code underneath).
    rows = {"cli-one": cli_json(control_plane, "create", "cli-one", "--owner-email", "cli-one@example.com")}
    with control_plane.provisioner() as provisioner:
        two = provisioner.create("cli-two", backend="local", owner_email="cli-two@example.com")
        rows["cli-two"] = {**two.customer.public(), "created": two.created, "token": two.token}
        try:
            yield rows
        finally:
            for slug in SLUGS:
                provisioner.destroy(slug)


def _customer(plane: ControlPlane, slug: str) -> Customer:
    with plane.provisioner() as provisioner:
        return provisioner.get(slug)


def test_create_prints_url_and_a_token_on_first_creation_only(control_plane: ControlPlane, created) -> None:
    first = created["cli-one"]
    assert first["created"] is True
    assert first["token"].startswith("th_")
    assert first["owner_email"] == "cli-one@example.com"
    response = httpx.get(f"{first['url']}/v1/networth", headers={"Authorization": f"Bearer {first['token']}"})
    assert response.status_code == 200

    again = cli(control_plane, "create", "cli-one")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [f"url: {first['url']}"]  # no token the second time


def test_list_json(control_plane: ControlPlane, created) -> None:
    rows = {row["slug"]: row for row in cli_json(control_plane, "list")}
    for slug in SLUGS:
        row = rows[slug]
        assert row["id"] == created[slug]["id"]
        assert row["backend"] == "local"
        assert row["state"] == "active"
        assert row["url"] == created[slug]["url"]
        assert row["version"]
    table = cli(control_plane, "list")
    assert table.stdout.splitlines()[0].split() == ["SLUG", "ID", "BACKEND", "STATE", "URL", "VERSION"]


def test_status_exit_codes_and_metrics_url(control_plane: ControlPlane, created) -> None:
    healthy = cli(control_plane, "status", "cli-two", "--json")
    assert healthy.returncode == 0, healthy.stdout
    report = json.loads(healthy.stdout)
    assert report["healthy"] is True
    assert set(report["parts"]) == {"db", "vault", "instance", "last_sync"}
    assert report["url"] == created["cli-two"]["url"]
    metrics = httpx.get(report["metrics_url"], timeout=10)
    assert metrics.status_code == 200
    assert "tallyhold_" in metrics.text

    assert cli(control_plane, "suspend", "cli-two").returncode == 0
    suspended = cli(control_plane, "status", "cli-two", "--json")
    assert suspended.returncode == 1
    assert json.loads(suspended.stdout)["parts"]["instance"]["state"] == "suspended"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{report['url']}/healthz", timeout=2)

    resumed = cli(control_plane, "resume", "cli-two")
    assert resumed.returncode == 0, resumed.stderr
    assert cli(control_plane, "status", "cli-two").returncode == 0

    unknown = cli(control_plane, "status", "no-such-co")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == ["error: no customer named 'no-such-co'"]


def test_token_issues_a_new_working_token(control_plane: ControlPlane, created) -> None:
    result = cli(control_plane, "token", "cli-one", "--label", "support")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["token"] != created["cli-one"]["token"]
    response = httpx.get(f"{lines['url']}/v1/networth", headers={"Authorization": f"Bearer {lines['token']}"})
    assert response.status_code == 200


def test_tokens_lists_expiry_and_last_use_never_a_secret_and_revoke_token_takes_effect_at_once(
    control_plane: ControlPlane, created
) -> None:
    issued = cli(control_plane, "token", "cli-two", "--label", "laptop", "--expires-in", "7")
    assert issued.returncode == 0, issued.stderr
    lines = dict(line.split(": ", 1) for line in issued.stdout.splitlines())
    token, url = lines["token"], lines["url"]
    token_id = token[3:15]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{url}/v1/networth", headers=headers).status_code == 200

    def listed() -> dict[str, dict[str, Any]]:
        return {row["id"]: row for row in cli_json(control_plane, "tokens", "cli-two")}

    row = listed()[token_id]
    assert row["label"] == "laptop"
    assert row["state"] == "active"
    created_at, expires_at = datetime.fromisoformat(row["created_at"]), datetime.fromisoformat(row["expires_at"])
    assert expires_at - created_at == timedelta(days=7)
    assert lines["expires"] == expires_at.isoformat(timespec="seconds")
    first = created["cli-two"]["token"][3:15]
    assert listed()[first]["expires_at"]  # create's first token expires too (the provisioner's default)
    # The last-used time is written after the answer, off the request's path: it shows up shortly.
    deadline = time.monotonic() + 30
    while listed()[token_id]["last_used_at"] is None:
        assert time.monotonic() < deadline, "last_used_at was never written"
        time.sleep(0.2)

    table = cli(control_plane, "tokens", "cli-two")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["ID", "LABEL", "CREATED", "EXPIRES", "LAST", "USED", "STATE"]
    everything = table.stdout + json.dumps(listed()) + issued.stderr
    assert token[16:] not in everything  # the secret part, in no form

    revoked = cli(control_plane, "revoke-token", "cli-two", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"revoked {token_id}"
    assert httpx.get(f"{url}/v1/networth", headers=headers).status_code == 401  # the very next request
    assert listed()[token_id]["state"] == "revoked"
    again = cli(control_plane, "revoke-token", "cli-two", token_id)
    assert again.returncode == 1
    assert again.stderr.strip() == f"error: cli-two has no active token {token_id} (`tokens cli-two` lists them)"


def test_upgrade_all_is_rolling_and_reports_failures(control_plane: ControlPlane, created) -> None:
    broken = _customer(control_plane, "cli-one")
    version_table = sql.Identifier(broken.names.schema, "alembic_version")
    with control_plane.postgres.connect(TENANT_DATABASE) as admin:
        (revision,) = admin.execute(sql.SQL("SELECT version_num FROM {}").format(version_table)).fetchone() or ("",)
        # A schema at a revision this code does not know: its migration step fails.
        admin.execute(sql.SQL("UPDATE {} SET version_num = 'ffffffffffff'").format(version_table))
    forkserver = control_plane.supervisor.pid(FORKSERVER)
    assert forkserver is not None
    try:
        result = cli(control_plane, "upgrade", "--all")
        # The host's fork server was restarted with the instances: its workers run the upgraded checkout's code.
        assert control_plane.supervisor.pid(FORKSERVER) not in (None, forkserver)
        assert result.returncode == 1
        assert "upgraded cli-two" in result.stdout.splitlines()
        assert any(line.startswith("FAILED cli-one: ") for line in result.stdout.splitlines())
        summary = result.stdout.splitlines()[-1]
        assert summary.startswith("summary: ")
        assert "1 failed" in summary
        assert cli(control_plane, "status", "cli-two").returncode == 0  # the other customer was not held up
    finally:
        with control_plane.postgres.connect(TENANT_DATABASE) as admin:
            admin.execute(sql.SQL("UPDATE {} SET version_num = %s").format(version_table), (str(revision),))
    fixed = cli(control_plane, "upgrade", "cli-one")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines()[-1] == "summary: 1 upgraded, 0 failed"


def test_rotate_key_rewraps_stored_ciphertexts(control_plane: ControlPlane, created) -> None:
    customer = _customer(control_plane, "cli-two")
    tenant = control_plane.tenant_login(customer)
    connection_id = "00000000-0000-4000-8000-00000000c0de"
    contexts = {field: derivation_context(customer.id, connection_id, field) for field in ("api_key", "api_secret")}
    old = {
        field: tenant.secrets.transit.encrypt_data(name=customer.id, plaintext=b64encode(field.encode()), context=ctx)[
            "data"
        ]["ciphertext"]
        for field, ctx in contexts.items()
    }
    table = sql.Identifier(customer.names.schema, "connections")
    with control_plane.postgres.connect(TENANT_DATABASE) as admin:
        admin.execute(
            sql.SQL(
                "INSERT INTO {} (id, kind, label, status, exchange, key_hint, api_key_ct, api_secret_ct, "
                "created_at, updated_at) VALUES (%s, 'exchange', 'rotation', 'active', 'binance', 'abcd', %s, %s, "
                "now(), now())"
            ).format(table),
            (connection_id, old["api_key"], old["api_secret"]),
        )
    try:
        result = cli(control_plane, "rotate-key", "cli-two")
        assert result.returncode == 0, result.stderr
        assert "key version 2" in result.stdout
        with control_plane.postgres.connect(TENANT_DATABASE) as admin:
            row = admin.execute(
                sql.SQL("SELECT api_key_ct, api_secret_ct FROM {} WHERE id = %s").format(table), (connection_id,)
            ).fetchone()
        assert row is not None
        new = dict(zip(("api_key", "api_secret"), (str(value) for value in row), strict=True))
        for field, ciphertext in new.items():
            assert ciphertext.startswith("vault:v2:")
            transit = tenant.secrets.transit
            plain = transit.decrypt_data(name=customer.id, ciphertext=ciphertext, context=contexts[field])
            assert b64decode(plain["data"]["plaintext"]) == field.encode()
            with pytest.raises(hvac.exceptions.InvalidRequest, match=r"too old|disallowed"):
                transit.decrypt_data(name=customer.id, ciphertext=old[field], context=contexts[field])
        assert cli(control_plane, "status", "cli-two").returncode == 0
    finally:
        with control_plane.postgres.connect(TENANT_DATABASE) as admin:
            admin.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (connection_id,))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("create", "k8s-co", "--backend", "kubernetes"), 1, "no Kubernetes configuration"),
        (("render", "cli-one", "--backend", "local"), 1, "a local instance has no manifests"),
        (("create", "Not_A_Slug"), 1, "is not a valid slug"),
        (("create", "ok-slug", "--owner-email", "nobody"), 1, "is not an e-mail address"),
        (("destroy", "cli-one"), 2, "add --yes to confirm"),
        (("upgrade",), 2, "give a SLUG or --all"),
        (("token", "no-such-co"), 1, "no customer named 'no-such-co'"),
        (("suspend", "no-such-co"), 1, "no customer named 'no-such-co'"),
        (("tokens", "no-such-co"), 1, "no customer named 'no-such-co'"),
        (("revoke-token", "cli-one", "th_0123456789ab_secret"), 1, "TOKEN_ID is the 12 hex characters after"),
        (("revoke-token", "cli-one", "0123456789ab"), 1, "cli-one has no active token 0123456789ab"),
    ],
)
def test_errors_are_one_line(control_plane: ControlPlane, created, args: tuple[str, ...], code: int, message: str):
    result = cli(control_plane, *args)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert result.stdout == ""


def test_kubernetes_create_leaves_nothing_behind(control_plane: ControlPlane, created) -> None:
    assert cli(control_plane, "create", "k8s-co", "--backend", "kubernetes").returncode == 1
    with control_plane.provisioner() as provisioner:
        assert "k8s-co" not in {customer.slug for customer in provisioner.customers()}


def test_render_prints_what_create_would_apply_without_a_cluster(
    control_plane: ControlPlane, created, tmp_path: Path
) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"networkPolicy": {"postgres": {"cidrs": ["10.20.0.5/32"]}}}))
    env = {**control_plane.env(), "TALLYHOLD_PROVISIONER_KUBE_VALUES": str(values),
           "TALLYHOLD_PROVISIONER_KUBE_INGRESS_DOMAIN": "tallyhold.example"}  # fmt: skip
    result = subprocess.run(
        [*control_plane.cli(), "render", "cli-one"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    customer = _customer(control_plane, "cli-one")
    namespace = customer.id.replace("_", "-")
    manifests = [m for m in yaml.safe_load_all(result.stdout) if m]
    kinds = [m["kind"] for m in manifests]
    assert kinds[:6] == ["Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "ServiceAccount", "Secret"]
    assert kinds[6:8] == ["NetworkPolicy", "Job"]  # the migration hooks, before the release's objects
    assert {"ConfigMap", "Service", "Deployment", "Ingress"} <= set(kinds[8:])
    assert all(m["metadata"].get("namespace", namespace) == namespace for m in manifests)
    assert manifests[0]["metadata"]["name"] == namespace
    host = next(m for m in manifests if m["kind"] == "Ingress")["spec"]["rules"][0]["host"]
    assert host == f"{namespace}.tallyhold.example"
    password = control_plane.secrets(customer)[PASSWORD_KEY]
    assert password not in result.stdout
    assert control_plane.secrets(customer)[WRAPPED_SECRET_ID_KEY] not in result.stdout


def test_destroy_is_idempotent_from_the_cli(control_plane: ControlPlane, created) -> None:
    with control_plane.provisioner() as provisioner:
        made = provisioner.create("cli-gone", backend="local").customer.public()
    first = cli(control_plane, "destroy", "cli-gone", "--yes")
    assert first.returncode == 0
    assert first.stdout.strip() == f"destroyed cli-gone ({made['id']})"
    second = cli(control_plane, "destroy", "cli-gone", "--yes")
    assert second.returncode == 0
    assert second.stdout.strip() == "cli-gone does not exist: nothing to destroy"
