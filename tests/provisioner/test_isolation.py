"""Two customers provisioned side by side cannot reach each other (Postgres privileges, catalog names
that say nothing about the customer, each role's connection cap, and one tenant's Vault token on the other's key),
and both instances work."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hvac
import hvac.exceptions
import psycopg
import pytest
from psycopg import errors

from tallyhold.credentials.context import b64encode, derivation_context
from tallyhold_provision import egress_budget
from tallyhold_provision.database import APP_CONNECTION_LIMIT
from tallyhold_provision.registry import Customer
from tests.fixtures.provisioner import TENANT_DATABASE, ControlPlane

OPAQUE = re.compile(r"^t_[0-9a-f]{4,}(_owner|_app)?$")
SLUGS = ("isolation-alpha", "isolation-beta")
EMAILS = ("alpha-owner@example.com", "beta-owner@example.com")


@pytest.fixture(scope="module")
def pair(control_plane: ControlPlane) -> Iterator[tuple[tuple[Customer, str], tuple[Customer, str]]]:
    created = []
    with control_plane.provisioner() as provisioner:
        for slug, email in zip(SLUGS, EMAILS, strict=True):
            result = provisioner.create(slug, backend="local", owner_email=email)
            assert result.token is not None
            created.append((result.customer, result.token))
        try:
            yield created[0], created[1]
        finally:
            for slug in SLUGS:
                provisioner.destroy(slug)


def test_both_instances_work_and_tokens_do_not_cross(pair) -> None:
    (a, token_a), (b, token_b) = pair
    assert a.url != b.url
    for customer, token in ((a, token_a), (b, token_b)):
        response = httpx.get(f"{customer.url}/v1/networth", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, response.text
        ready = httpx.get(f"{customer.url}/readyz", timeout=10)  # its database role and its Vault login work
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"database": "ok", "vault": "ok"}
    crossed = httpx.get(f"{b.url}/v1/networth", headers={"Authorization": f"Bearer {token_a}"}, timeout=10)
    assert crossed.status_code == 401


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM {other}.connections",
        "INSERT INTO {other}.access_tokens (id, label, secret_hash, created_at) VALUES ('x', 'x', 'x', now())",
        "CREATE TABLE {other}.evil (id int)",
        "CREATE TABLE public.evil (id int)",
        "CREATE SCHEMA evil",
        "CREATE TEMP TABLE evil (id int)",
        "SELECT * FROM tallyhold_registry.customers",
    ],
)
def test_app_role_cannot_reach_the_other_schema_or_public(control_plane: ControlPlane, pair, statement: str) -> None:
    (a, _), (b, _) = pair
    with control_plane.app_connect(a) as conn, pytest.raises((errors.InsufficientPrivilege, errors.UndefinedTable)):
        conn.execute(statement.format(other=b.names.schema))


def test_app_role_cannot_connect_to_other_databases(control_plane: ControlPlane, pair) -> None:
    (a, _), _ = pair
    with control_plane.postgres.connect() as admin:
        databases = [str(row[0]) for row in admin.execute("SELECT datname FROM pg_database WHERE datallowconn")]
    others = [name for name in databases if name != TENANT_DATABASE]
    assert "postgres" in others  # the admin database, which holds the registry
    for name in others:
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            control_plane.app_connect(a, name)


def test_roles_have_no_special_flags_and_own_nothing(control_plane: ControlPlane, pair) -> None:
    with control_plane.postgres.connect(TENANT_DATABASE) as admin:
        for customer, _ in pair:
            n = customer.names
            row = admin.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolcanlogin, rolconnlimit "
                "FROM pg_roles WHERE rolname = %s",
                (n.app_role,),
            ).fetchone()
            assert row == (False, False, False, False, False, True, APP_CONNECTION_LIMIT)
            owner = admin.execute("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", (n.owner_role,))
            assert owner.fetchone() == (False, False)
            owned = admin.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s",
                (n.app_role,),
            ).fetchone()
            assert owned == (0,)
            tables = admin.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", (n.schema,)
            ).fetchall()
            assert tables == [(n.owner_role,)]


def test_catalog_names_are_opaque_and_carry_no_customer_data(control_plane: ControlPlane, pair) -> None:
    with control_plane.postgres.connect(TENANT_DATABASE) as admin:
        schemas = [
            str(r[0])
            for r in admin.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
                "AND nspname NOT LIKE 'pg\\_%'"
            )
        ]
        roles = [
            str(r[0])
            for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' AND NOT rolsuper")
        ]
        comments = admin.execute(
            "SELECT count(*) FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 't\\_%'"
        ).fetchone()
        role_comments = admin.execute(
            "SELECT count(*) FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass"
        ).fetchone()
        relations = [
            str(r[0])
            for r in admin.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname LIKE 't\\_%'"
            )
        ]
    assert schemas, "the tenant database holds the customers' schemas"
    # Besides the customers' own: the exchange budget every instance of an egress pool shares, which holds
    # counts and venue names only (tests/provisioner/test_egress_budget.py).
    assert all(OPAQUE.fullmatch(name) for name in schemas if name != egress_budget.SCHEMA), schemas
    assert all(OPAQUE.fullmatch(name) for name in roles if name != egress_budget.OWNER_ROLE), roles
    assert comments == (0,)
    assert role_comments == (0,)
    for customer, _ in pair:
        assert customer.names.schema in schemas
    words = [*SLUGS, *EMAILS, "alpha", "beta"]
    assert not [name for name in relations if any(word in name for word in words)]
    # Nowhere in the customers' database, data included: the slug and e-mail live in the registry only.
    dump = control_plane.postgres.pg_dump(database=TENANT_DATABASE)
    assert not [word for word in words if word in dump]


def test_connection_limit_holds(control_plane: ControlPlane, pair) -> None:
    (a, _), (b, _) = pair
    opened: list[psycopg.Connection[tuple[object, ...]]] = []
    try:
        refused = None
        for _ in range(APP_CONNECTION_LIMIT + 1):
            try:
                opened.append(control_plane.app_connect(a))
            except psycopg.OperationalError as exc:
                refused = exc
                break
        assert refused is not None
        assert "too many connections for role" in str(refused)
        with control_plane.postgres.connect(TENANT_DATABASE) as admin:
            count = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (a.names.app_role,)
            ).fetchone()
        assert count == (APP_CONNECTION_LIMIT,)  # ours plus whatever the instance holds, never more
        with control_plane.app_connect(b) as other:  # the other customer is not starved
            assert other.execute("SELECT 1").fetchone() == (1,)
    finally:
        for conn in opened:
            conn.close()


def _context(customer: Customer) -> str:
    return derivation_context(customer.id, "00000000-0000-0000-0000-000000000001", "api_secret")


def test_vault_identity_uses_its_own_key_only(control_plane: ControlPlane, pair) -> None:
    (a, _), (b, _) = pair
    client_a = control_plane.tenant_login(a)
    own = client_a.secrets.transit.encrypt_data(name=a.id, plaintext=b64encode(b"secret"), context=_context(a))
    ciphertext = own["data"]["ciphertext"]
    assert ciphertext.startswith("vault:v1:")
    back = client_a.secrets.transit.decrypt_data(name=a.id, ciphertext=ciphertext, context=_context(a))
    assert back["data"]["plaintext"] == b64encode(b"secret")

    client_b = control_plane.tenant_login(b)
    b_ciphertext = client_b.secrets.transit.encrypt_data(name=b.id, plaintext=b64encode(b"other"), context=_context(b))[
        "data"
    ]["ciphertext"]
    denied: list[Callable[[], Any]] = [
        lambda: client_a.secrets.transit.encrypt_data(name=b.id, plaintext=b64encode(b"x"), context=_context(b)),
        lambda: client_a.secrets.transit.decrypt_data(name=b.id, ciphertext=b_ciphertext, context=_context(b)),
        lambda: client_a.secrets.transit.rewrap_data(name=b.id, ciphertext=b_ciphertext, context=_context(b)),
        lambda: client_a.secrets.transit.rotate_key(name=a.id),
        lambda: client_a.secrets.transit.read_key(name=a.id),
        lambda: client_a.secrets.transit.export_key(name=a.id, key_type="encryption-key"),
        lambda: client_a.secrets.transit.backup_key(name=a.id),
        lambda: client_a.secrets.transit.update_key_configuration(name=a.id, deletion_allowed=True),
        lambda: client_a.secrets.transit.create_key(name="t_0123456789abcdef"),
        lambda: client_a.sys.list_acl_policies(),
    ]
    for call in denied:
        with pytest.raises(hvac.exceptions.Forbidden):
            call()


def test_secret_ids_do_not_cross_roles(control_plane: ControlPlane, pair) -> None:
    (a, _), (b, _) = pair
    client = hvac.Client(url=control_plane.openbao.addr, timeout=10)
    with pytest.raises(hvac.exceptions.VaultError):
        client.auth.approle.login(role_id=a.id, secret_id=control_plane.instance_secret_id(b))
