"""The shared `egress_budget` schema as a hostile tenant sees it, on the real Postgres: its own role's login,
straight SQL, no instance in between. What crosses between customers is counts and venue names only; a
forged ban is capped; a greedy sharer leaves every other active sharer its even share."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from tallyhold_provision.egress_budget import MAX_BAN_SECONDS, ensure_schema, set_venue_limit
from tallyhold_provision.local.postgres import LocalPostgres
from tests.fixtures.egress_budget import new_pool
from tests.fixtures.platform import DATABASE, Tenant, create_tenant, drop_tenant

BUDGET = 800
HOUR = 3600  # one window for the whole test: none of its grants straddles two


@pytest.fixture
def pool_of_three(postgres: LocalPostgres) -> Iterator[list[Tenant]]:
    pool = new_pool()
    tenants = [create_tenant(postgres, migrate=False, egress_pool=pool) for _ in range(3)]
    with postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, HOUR)
    try:
        yield tenants
    finally:
        with postgres.connect(DATABASE) as admin:
            ensure_schema(admin)
        for tenant in tenants:
            drop_tenant(tenant)


def login(tenant: Tenant) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(tenant.app_url, autocommit=True)


def acquire(conn: psycopg.Connection[tuple[object, ...]], weight: int, venue: str = "binance") -> tuple[float, bool]:
    row = conn.execute("SELECT * FROM egress_budget.acquire(%s, %s)", (venue, weight)).fetchone()
    assert row is not None
    return float(row[0]), bool(row[1])  # type: ignore[arg-type]  # a float and a boolean column


def report(conn: psycopg.Connection[tuple[object, ...]], seconds: float | str) -> float:
    row = conn.execute("SELECT egress_budget.report_ban('binance', %s::double precision)", (seconds,)).fetchone()
    assert row is not None
    return float(row[0])  # type: ignore[arg-type]  # a double precision column


@pytest.mark.parametrize("table", ["sharer", "venue_limit", "venue_window", "spend"])
def test_a_tenant_reads_and_writes_no_table(pool_of_three: list[Tenant], table: str) -> None:
    with login(pool_of_three[0]) as conn:
        acquire(conn, 1)  # there is something to read
        for statement in (
            f"SELECT * FROM egress_budget.{table}",
            f"DELETE FROM egress_budget.{table}",
            f"INSERT INTO egress_budget.{table} DEFAULT VALUES",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_functions_answer_a_wait_and_nothing_else(pool_of_three: list[Tenant]) -> None:
    first, second, _ = pool_of_three
    with login(first) as a, login(second) as b:
        acquire(a, 300)
        cursor = b.execute("SELECT * FROM egress_budget.acquire('binance', 20)")
        assert [column.name for column in cursor.description or []] == ["wait_seconds", "banned"]
        # the catalogue shows the functions' text to whoever can see them, and it names no customer
        source = b.execute("SELECT string_agg(prosrc, '') FROM pg_proc WHERE proname IN ('acquire', 'report_ban')")
        row = source.fetchone()
        assert row is not None
        assert first.customer_id not in str(row[0])


def test_a_forged_huge_ban_is_capped_and_cannot_be_stacked(pool_of_three: list[Tenant]) -> None:
    hostile, victim, bystander = pool_of_three
    with login(hostile) as h, login(victim) as v, login(bystander) as b:
        assert report(h, 1e12) == 0  # no request granted to it yet: nothing it could have seen
        assert acquire(v, 1) == (0.0, False)
        assert acquire(h, 1) == (0.0, False)
        assert report(h, 1e12) == MAX_BAN_SECONDS
        wait, banned = acquire(v, 1)
        assert banned
        assert 0 < wait <= MAX_BAN_SECONDS
        assert report(h, "Infinity") == 0  # during the ban it reported: no request of its own since
        assert report(b, 1e12) == 0  # nor from a sharer that was granted nothing since the ban began
        wait_after, _ = acquire(v, 1)
        assert wait_after <= wait
        with pytest.raises(errors.InvalidParameterValue):
            report(h, "NaN")


def test_refusals(pool_of_three: list[Tenant], postgres: LocalPostgres) -> None:
    with login(pool_of_three[0]) as conn:
        for venue, weight in (("kraken", 1), ("binance", 0), ("binance", BUDGET + 1), ("Binance'--", 1)):
            with pytest.raises(errors.InvalidParameterValue):
                acquire(conn, weight, venue)
    outsider = create_tenant(postgres, migrate=False)
    try:
        with postgres.connect(DATABASE) as admin:
            admin.execute("DELETE FROM egress_budget.sharer WHERE role_name = %s", (outsider.names.app_role,))
        with login(outsider) as conn, pytest.raises(errors.InsufficientPrivilege):
            acquire(conn, 1)
    finally:
        drop_tenant(outsider)


def test_a_greedy_sharer_leaves_the_others_their_share(pool_of_three: list[Tenant]) -> None:
    greedy, modest, _ = pool_of_three
    with login(greedy) as g, login(modest) as m:
        assert acquire(m, 1) == (0.0, False)  # the modest sharer is active in this window
        taken = 0
        while acquire(g, 50)[0] == 0:
            taken += 50
        assert taken <= BUDGET // 2  # two active sharers: an even share each
        assert acquire(m, BUDGET // 2 - 1) == (0.0, False)  # the rest of its share is still there
