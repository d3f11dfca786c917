"""`tallyhold migrate`, `token create` and `token revoke` as an operator runs them (real processes)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from tallyhold.settings import Settings
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.instance import instance_settings, settings_env
from tests.fixtures.platform import Tenant, create_tenant, drop_tenant


def _cli(settings: Settings, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = settings_env(settings, **(extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "tallyhold.cli", *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


async def test_token_create_and_revoke(settings: Settings, app: FastAPI, clean_tenant: None) -> None:
    created = _cli(settings, "token", "create", "--label", "ops laptop")
    assert created.returncode == 0, created.stderr
    match = re.fullmatch(r"token: (th_([0-9a-f]{12})_[A-Za-z0-9_-]{43})\nexpires: (\S+)\n", created.stdout)
    assert match, created.stdout
    token, token_id, expires = match.groups()
    assert datetime.fromisoformat(expires) - datetime.now(UTC) > timedelta(days=89)  # the default: 90 days
    assert token not in created.stderr, "the token is printed once, on stdout, and never logged"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/v1/networth", headers=headers)).status_code == 200
        # In a thread: the request above left the token's last-used write to a task of this event loop, whose
        # transaction holds the token's row until it commits; blocking the loop here would keep it open and the
        # revoke would wait for that row until its statement timeout.
        revoked = await asyncio.to_thread(_cli, settings, "token", "revoke", token_id)
        assert revoked.returncode == 0, revoked.stderr
        assert (await client.get("/v1/networth", headers=headers)).status_code == 401
    again = _cli(settings, "token", "revoke", token_id)
    assert again.returncode == 1
    assert "no active token" in again.stderr


async def test_token_create_expires_in_sets_the_lifetime_and_refuses_nonsense(settings: Settings) -> None:
    created = _cli(settings, "token", "create", "--expires-in", "3")
    assert created.returncode == 0, created.stderr
    lines = dict(line.split(": ", 1) for line in created.stdout.splitlines())
    expires = datetime.fromisoformat(lines["expires"])
    assert timedelta(days=2, hours=23) < expires - datetime.now(UTC) <= timedelta(days=3)
    for bad in ("0", "-1", "3651", "soon"):
        refused = _cli(settings, "token", "create", "--expires-in", bad)
        assert refused.returncode == 2, bad
        assert "token:" not in refused.stdout


def test_migrate_as_the_schema_owner(settings: Settings, tenant: Tenant) -> None:
    result = _cli(
        settings,
        "migrate",
        extra={
            "TALLYHOLD_MIGRATION_DATABASE_URL": tenant.postgres.url(database="postgres"),
            "TALLYHOLD_MIGRATION_ROLE": tenant.names.owner_role,
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "migrated"


def test_migrate_as_the_app_role_is_refused(postgres: LocalPostgres) -> None:
    """The app role has DML only: it cannot create the schema's tables, so a misconfigured migrate fails loudly
    (and prints no password)."""
    fresh = create_tenant(postgres, migrate=False)
    try:
        settings = instance_settings(fresh)
        result = _cli(settings, "migrate")
        assert result.returncode != 0
        assert "permission denied" in result.stderr
        assert fresh.app_password not in result.stderr + result.stdout
    finally:
        drop_tenant(fresh)
