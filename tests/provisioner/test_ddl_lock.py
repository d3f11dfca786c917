"""The provisioner's DDL lock is an advisory lock, which any role may take: a customer's own login holding it
must not stall every create and destroy of the host."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.naming import TenantNames, new_customer_id
from tallyhold_provision.postgres import DDL_LOCK, Databases
from tests.fixtures.platform import DATABASE, create_tenant, drop_tenant


def test_a_tenant_holding_the_ddl_lock_is_cut_off(postgres: LocalPostgres, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=20s")  # the unfixed code waits for the lock for ever
    tenant = create_tenant(postgres, migrate=False)
    databases = Databases(postgres.url(), DATABASE)
    names = TenantNames(new_customer_id())
    try:
        with psycopg.connect(tenant.app_url, autocommit=True) as hostile:
            taken = hostile.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (DDL_LOCK,)).fetchone()
            assert taken == (True,)
            databases.converge_tenant(names, secrets.token_urlsafe(18))
            with pytest.raises(psycopg.OperationalError):
                hostile.execute("SELECT 1")
    finally:
        databases.drop_tenant(names)
        drop_tenant(tenant)
