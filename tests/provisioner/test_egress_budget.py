"""The shared `egress_budget` schema as a hostile tenant sees it, on the real Postgres: its own role's login,
straight SQL, no instance in between. What crosses between customers is counts and venue names only; a
forged ban is capped; a greedy sharer leaves every other active sharer its even share."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from tallyhold.exchanges.venues.binance import Binance
from tallyhold_provision.egress_budget import (
    ADVISORY_NAMESPACE,
    MAX_BAN_SECONDS,
    OWNER_ROLE,
    ensure_schema,
    set_venue_limit,
)
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.tenant_database import TenantDatabase
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


def acquire(
    conn: psycopg.Connection[tuple[object, ...]], weight: int, venue: str = "binance", *, interactive: bool = False
) -> tuple[float, str | None]:
    """(wait, hold): hold is None for a grant or a spent window, else "rate_limited" / "banned"."""
    if interactive:
        row = conn.execute("SELECT * FROM egress_budget.acquire(%s, %s, true)", (venue, weight)).fetchone()
    else:  # as instances from before the interactive lane ask
        row = conn.execute("SELECT * FROM egress_budget.acquire(%s, %s)", (venue, weight)).fetchone()
    assert row is not None
    return float(row[0]), None if row[1] is None else str(row[1])  # type: ignore[arg-type]  # a float column


def report(conn: psycopg.Connection[tuple[object, ...]], seconds: float | str, *, banned: bool = True) -> float:
    row = conn.execute(
        "SELECT egress_budget.report_ban('binance', %s::double precision, %s)", (seconds, banned)
    ).fetchone()
    assert row is not None
    return float(row[0])  # type: ignore[arg-type]  # a double precision column


@pytest.mark.parametrize("table", ["sharer", "venue_limit", "venue_window", "spend", "place"])
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
        assert [column.name for column in cursor.description or []] == ["wait_seconds", "hold"]
        # the catalogue shows the functions' text to whoever can see them, and it names no customer
        source = b.execute("SELECT string_agg(prosrc, '') FROM pg_proc WHERE proname IN ('acquire', 'report_ban')")
        row = source.fetchone()
        assert row is not None
        assert first.customer_id not in str(row[0])


def test_a_forged_huge_ban_is_capped_and_cannot_be_stacked(pool_of_three: list[Tenant]) -> None:
    hostile, victim, bystander = pool_of_three
    with login(hostile) as h, login(victim) as v, login(bystander) as b:
        assert report(h, 1e12) == 0  # no request granted to it yet: nothing it could have seen
        assert acquire(v, 1) == (0.0, None)
        assert acquire(h, 1) == (0.0, None)
        assert report(h, 1e12) == MAX_BAN_SECONDS
        wait, hold = acquire(v, 1)
        assert hold == "banned"
        assert 0 < wait <= MAX_BAN_SECONDS
        assert report(h, "Infinity") == 0  # during the ban it reported: no request of its own since
        assert report(b, 1e12) == 0  # nor from a sharer that was granted nothing since the ban began
        wait_after, _ = acquire(v, 1)
        assert wait_after <= wait
        with pytest.raises(errors.InvalidParameterValue):
            report(h, "NaN")


def test_sharers_are_told_whether_a_429_or_a_ban_holds_the_pool_back(pool_of_three: list[Tenant]) -> None:
    limited, sharer, _ = pool_of_three
    with login(limited) as a, login(sharer) as b:
        assert acquire(a, 1) == (0.0, None)
        assert report(a, 30, banned=False) == 30  # a 429 with Retry-After: 30
        wait, hold = acquire(b, 1)
        assert hold == "rate_limited"
        assert 0 < wait <= 30
        assert acquire(a, 1)[1] == "rate_limited"  # nothing granted during the hold: a later report is refused
        assert report(a, 600) == 0
        assert acquire(b, 1)[1] == "rate_limited"


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


# One Binance balances sync, call by call, at the adapter's weights (Binance's published per-IP weights).
SYNC_CALLS = [Binance.weights[method] for method in sorted(Binance.methods)]


def test_sharers_that_wait_for_nothing_keep_no_share_from_one_that_syncs(pool_of_three: list[Tenant]) -> None:
    """Two sharers read a little this window and want nothing more; the third runs a whole sync (its two Simple
    Earn lists weigh 150 each), well within what the window has left: every call of it is granted at once.
    (The budget is scaled to three sharers what 25 customers are to Binance's 4,800 a minute: an even share
    for every sharer active this window would be less than one sync.)"""
    first, second, syncing = pool_of_three
    with login(first) as a, login(second) as b, login(syncing) as s:
        for conn in (a, b):
            assert acquire(conn, Binance.weights["privateGetAccount"]) == (0.0, None)
            assert acquire(conn, Binance.weights["sapiPostAssetGetFundingAsset"]) == (0.0, None)
        assert sum(SYNC_CALLS) > BUDGET // 3
        assert [acquire(s, weight) for weight in SYNC_CALLS] == [(0.0, None)] * len(SYNC_CALLS)


def test_a_greedy_sharer_leaves_a_waiting_sharer_what_it_waits_for(pool_of_three: list[Tenant]) -> None:
    greedy, modest, _ = pool_of_three
    with login(greedy) as g, login(modest) as m:
        assert acquire(m, 1) == (0.0, None)  # served: it waits for nothing, so nothing is kept for it
        assert acquire(g, BUDGET // 2) == (0.0, None)
        assert acquire(m, BUDGET // 2) != (0.0, None)  # one short: now it waits for BUDGET // 2
        with pool_of_three[0].postgres.connect(DATABASE) as admin:  # and it is due back now, not in an hour
            admin.execute("UPDATE egress_budget.place SET due = now() WHERE wanted > 0")
            admin.execute("UPDATE egress_budget.venue_window SET used = 0 WHERE venue = 'binance'")
        taken = 0
        while acquire(g, 50)[0] == 0:
            taken += 50
        assert taken <= BUDGET - BUDGET // 2  # what the waiting sharer asked for is kept from the greedy one
        assert acquire(m, BUDGET // 2) == (0.0, None)


def test_a_key_check_goes_ahead_of_the_queue_in_a_small_lane_and_a_sharer_claiming_it_gets_no_more(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """Of each window the queue leaves RESERVE to requests a customer waits on (key checks), which go ahead of a
    sharer waiting in the queue. Whether a request is interactive is the asker's word: a sharer that claims it for
    every request takes the lane and no more; then it queues like anyone, and the window grants no more than its
    budget."""
    reserve = BUDGET // 20
    syncing, waiting, claiming = pool_of_three
    with postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, HOUR, HEAVIEST, interactive_reserve=reserve)
    with login(syncing) as s, login(waiting) as w, login(claiming) as c:
        queued = 0
        while acquire(s, reserve) == (0.0, None):
            queued += reserve
        assert queued == BUDGET - reserve, "the queue leaves the lane"
        assert acquire(w, 1)[0] > 0, "a sync waits in the queue"
        lane = 0
        while acquire(c, 1, interactive=True) == (0.0, None):
            lane += 1
        assert lane == reserve, "ahead of the waiting sharer, the lane and no more"
        assert acquire(c, 1, interactive=True)[0] > 0
        with pytest.raises(errors.InvalidParameterValue):
            c.execute("SELECT * FROM egress_budget.acquire('binance', 1, NULL)")
    with postgres.connect(DATABASE) as admin:
        used = admin.execute(
            "SELECT sum(used) FROM egress_budget.spend WHERE sharer IN "
            "(SELECT id FROM egress_budget.sharer WHERE role_name = ANY(%s))",
            ([tenant.names.app_role for tenant in pool_of_three],),
        ).fetchone()
    assert used == (BUDGET,)


def grab_a_window(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Asks for a whole window until granted, then until granted again: the second grant is at the very start of
    a window (never in its last moments, whose grants count in the next one too)."""
    for _ in range(2):
        while acquire(conn, BUDGET)[0] > 0:
            time.sleep(0.01)


HEAVIEST = max(Binance.weights.values())  # the Simple Earn lists, 150 each


def test_no_request_asks_for_more_than_the_venue_s_heaviest(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """Every provisioning run stores each venue's heaviest request (the adapter's weights); a sharer asking for
    more is refused, whatever the budget."""
    with postgres.connect(DATABASE) as admin:
        ensure_schema(admin)
        row = admin.execute("SELECT budget, max_weight FROM egress_budget.venue_limit WHERE venue = 'binance'")
        assert Binance.ip_limit is not None
        assert row.fetchone() == (Binance.ip_limit.budget, HEAVIEST)
    with login(pool_of_three[0]) as conn:
        assert acquire(conn, HEAVIEST) == (0.0, None)
        with pytest.raises(errors.InvalidParameterValue):
            acquire(conn, HEAVIEST + 1)


def test_a_sharer_at_the_head_of_the_queue_keeps_one_request_from_the_others_not_the_window(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """A hostile sharer spends a window, then asks for as much as it may: refused, it heads the queue, and what it
    asked for is kept from everyone behind it once it is due. Were it allowed to ask for the whole budget, every
    other sharer of the pool would be refused each window until it came back (and it could come back for that
    every window); it may ask for one heaviest request, so the others still get the rest of the window."""
    with postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, HOUR, HEAVIEST)
    hostile, victim, _ = pool_of_three
    with login(hostile) as h, login(victim) as v:
        while acquire(h, HEAVIEST) == (0.0, None):
            pass
        with postgres.connect(DATABASE) as admin:  # its turn: the next window, and it is due back
            admin.execute("UPDATE egress_budget.place SET due = now() WHERE wanted > 0")
            admin.execute("UPDATE egress_budget.venue_window SET used = 0, carried = 0 WHERE venue = 'binance'")
        granted = 0
        while acquire(v, HEAVIEST) == (0.0, None):
            granted += HEAVIEST
        assert granted == (BUDGET - HEAVIEST) // HEAVIEST * HEAVIEST  # all but what the head of the queue waits for
        assert acquire(h, HEAVIEST) == (0.0, None)


def test_a_sharer_refused_a_whole_window_is_kept_its_share_of_the_next(pool_of_three: list[Tenant]) -> None:
    """A greedy sharer that grabs each window as it opens must not starve one that was refused: being refused
    is queueing for what it asked, even if it was never granted anything."""
    greedy, starved, _ = pool_of_three
    with pool_of_three[0].postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, 1)  # windows of a second
    with login(greedy) as g, login(starved) as s:
        grab_a_window(g)
        told, _ = acquire(s, BUDGET // 2)
        assert told > 0  # the window is the greedy one's
        back = time.monotonic() + told  # the starved sharer comes back when told; the greedy one asks all along
        while time.monotonic() < back:
            assert acquire(g, BUDGET)[0] > 0
            time.sleep(0.01)
        assert acquire(g, BUDGET)[0] > 0, "the greedy sharer took the next window whole again"
        assert acquire(s, BUDGET // 2) == (0.0, None)


def test_sharers_waiting_for_more_than_an_even_share_are_served_in_turn(pool_of_three: list[Tenant]) -> None:
    """Three sharers each waiting for more than a third of the budget: the first in the queue is served as soon
    as the window has its weight, then the next, never all of them refused for good while the window stands
    empty (an even share kept for every waiting sharer would be less than any of them asks)."""
    with pool_of_three[0].postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, 1)  # windows of a second
    heavy = BUDGET // 3 + 100
    with login(pool_of_three[0]) as first, login(pool_of_three[1]) as second, login(pool_of_three[2]) as third:
        grab_a_window(first)
        waiting = {"first": first, "second": second, "third": third}
        served: list[str] = []
        for _ in range(200):  # dozens of windows; two are enough
            for name, conn in list(waiting.items()):
                if acquire(conn, heavy) == (0.0, None):
                    served.append(name)
                    del waiting[name]
            if not waiting:
                break
            time.sleep(0.05)
        assert sorted(served) == ["first", "second", "third"]


def test_an_install_from_before_the_queue_gets_it_on_the_next_provisioning_run(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """The queue's table came after the first release: the next `ensure_schema` (any create) adds it and replaces
    `acquire`, and the sharers enrolled before keep their grants."""
    first, second, _ = pool_of_three
    with postgres.connect(DATABASE) as admin:
        admin.execute("DROP TABLE egress_budget.place")
        ensure_schema(admin)
        set_venue_limit(admin, "binance", BUDGET, HOUR)
    with login(first) as a, login(second) as b:
        assert acquire(a, BUDGET) == (0.0, None)
        assert acquire(b, 1)[0] > 0
    with postgres.connect(DATABASE) as admin:
        assert admin.execute("SELECT wanted FROM egress_budget.place WHERE wanted > 0").fetchall() == [(1,)]


def test_an_install_from_before_the_lane_gets_it_on_the_next_provisioning_run(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """Before the lane, `acquire` took (venue, weight) and its tables had no lane columns: the next `ensure_schema`
    retires that signature for the one with `interactive` (default false, so instances not yet upgraded still
    ask as before), adds the columns and gives the enrolled sharers their grants back."""
    first, second, _ = pool_of_three
    with postgres.connect(DATABASE) as admin:
        admin.execute(f"SET ROLE {OWNER_ROLE}")
        admin.execute("DROP FUNCTION egress_budget.acquire(text, integer, boolean)")
        admin.execute(
            "CREATE FUNCTION egress_budget.acquire(p_venue text, p_weight integer, OUT wait_seconds double precision, "
            "OUT hold text) LANGUAGE sql AS $$ SELECT 0::double precision, NULL::text $$"
        )
        admin.execute("ALTER TABLE egress_budget.venue_limit DROP COLUMN interactive_reserve")
        admin.execute("ALTER TABLE egress_budget.venue_window DROP COLUMN interactive_used")
        admin.execute("RESET ROLE")
        ensure_schema(admin)
        signatures = admin.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = 'egress_budget' AND p.proname = 'acquire'"
        ).fetchall()
        set_venue_limit(admin, "binance", BUDGET, HOUR, HEAVIEST, interactive_reserve=1)
    assert signatures == [("egress_budget.acquire(text,integer,boolean)",)]
    with login(first) as a, login(second) as b:
        for weight in (HEAVIEST, 1):  # all the queue may have of the window
            while acquire(a, weight) == (0.0, None):
                pass
        assert acquire(b, 1, interactive=True) == (0.0, None)
        assert acquire(b, 1, interactive=True)[0] > 0


def test_provisioning_takes_no_lock_that_waits_for_the_sharers(
    pool_of_three: list[Tenant], postgres: LocalPostgres
) -> None:
    """Every `create` runs `ensure_schema` while the host's instances are inside transactions on the budget's
    tables. With the schema current it must not wait for them: an ALTER TABLE, even one that finds its column,
    takes an ACCESS EXCLUSIVE lock, which waited behind the sharers, stalled them, and once deadlocked with one
    (a create failed `deadlock detected` beside running instances)."""
    tables = ("sharer", "venue_limit", "venue_window", "spend", "place")
    with postgres.connect(DATABASE) as sharer, postgres.connect(DATABASE) as admin, sharer.transaction():
        for table in tables:  # what a sharer's transaction holds on every table it has read or written
            sharer.execute(f"LOCK TABLE egress_budget.{table} IN ROW EXCLUSIVE MODE")
        admin.execute("SET lock_timeout = '3s'")
        with admin.transaction():  # as `create` runs it: in its transaction, so every lock lasts until the end
            ensure_schema(admin)  # before: LockNotAvailable on the first ALTER
    with login(pool_of_three[0]) as conn:
        assert acquire(conn, 1) == (0.0, None)


@pytest.mark.parametrize("hold", ["acquire", "report_ban", "session_lock"])
def test_a_sharer_holding_the_pool_row_in_an_open_transaction_is_cut_off(
    pool_of_three: list[Tenant], hold: str
) -> None:
    """The functions lock the pool's row; a hostile sharer that keeps its transaction open (its own timeouts
    turned off: they are its to set) would hold every other sharer of the pool back for good. It is cut off."""
    hostile, victim, _ = pool_of_three
    with pool_of_three[0].postgres.connect(DATABASE) as admin:
        row = admin.execute("SELECT pool FROM egress_budget.sharer WHERE role_name = %s", (hostile.names.app_role,))
        hostile_pool = str((row.fetchone() or ("",))[0])
    with psycopg.connect(hostile.app_url) as h, login(victim) as v:
        h.execute("SET idle_in_transaction_session_timeout = 0")
        h.execute("SET statement_timeout = 0")
        acquire(h, 1)
        if hold == "report_ban":
            h.execute("SELECT egress_budget.report_ban('binance', 1, true)")
        if hold == "session_lock":  # the same lock the functions take, by hand, held beyond the transaction
            h.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (ADVISORY_NAMESPACE, hostile_pool))
        h.execute("SAVEPOINT held")  # and then nothing: the transaction stays open
        v.execute("SET statement_timeout = '12s'")  # the role's own is 15 s: fail sooner on the unfixed code
        assert acquire(v, 1)[0] >= 0
        with pytest.raises(psycopg.OperationalError):
            h.execute("SELECT 1")


def test_destroy_leaves_nothing_of_the_customer_in_the_shared_schema(postgres: LocalPostgres) -> None:
    tenant = create_tenant(postgres, migrate=False, egress_pool=new_pool())
    with postgres.connect(DATABASE) as admin:
        row = admin.execute("SELECT id FROM egress_budget.sharer WHERE role_name = %s", (tenant.names.app_role,))
        sharer = (row.fetchone() or (None,))[0]
    with login(tenant) as conn:
        acquire(conn, 1)
    drop_tenant(tenant)
    with postgres.connect(DATABASE) as admin:
        left = admin.execute(
            "SELECT (SELECT count(*) FROM egress_budget.spend WHERE sharer = %s),"
            " (SELECT count(*) FROM egress_budget.place WHERE sharer = %s),"
            " (SELECT count(*) FROM egress_budget.sharer WHERE role_name = %s)",
            (sharer, sharer, tenant.names.app_role),
        )
        assert left.fetchone() == (0, 0, 0)


def test_destroy_is_not_held_up_by_another_sharer_s_open_transaction(pool_of_three: list[Tenant]) -> None:
    """A sharer's grant clears the pool's old spend rows (another customer's too) and may keep them locked in an
    open transaction; destroying that other customer must not wait for it (the provisioner holds its DDL lock)."""
    leaving, hostile, _ = pool_of_three
    postgres = leaving.postgres
    with postgres.connect(DATABASE) as admin:
        set_venue_limit(admin, "binance", BUDGET, 1)  # windows of a second
        row = admin.execute("SELECT id FROM egress_budget.sharer WHERE role_name = %s", (leaving.names.app_role,))
        sharer = (row.fetchone() or (None,))[0]
    with login(leaving) as conn:
        acquire(conn, 1)
    locked = (  # its rows, and how many of them someone else holds
        "SELECT count(*), count(*) - (SELECT count(*) FROM (SELECT 1 FROM egress_budget.spend WHERE sharer = %s"
        " FOR UPDATE SKIP LOCKED) free) FROM egress_budget.spend WHERE sharer = %s"
    )
    with psycopg.connect(hostile.app_url) as h, postgres.connect(DATABASE) as admin:
        h.execute("SET idle_in_transaction_session_timeout = 0")
        for _ in range(50):  # two windows on, the leaving customer's row is old: a grant deletes it, in the open
            acquire(h, 1)
            if admin.execute(locked, (sharer, sharer)).fetchone() == (1, 1):
                break
            h.rollback()
            time.sleep(0.1)
        else:
            pytest.fail("the hostile sharer never held the leaving customer's row")
        admin.execute("SET statement_timeout = '10s'")
        TenantDatabase(leaving.names, DATABASE).drop(admin)


def test_a_tenant_cannot_reach_the_owner_or_the_internal_function(pool_of_three: list[Tenant]) -> None:
    with login(pool_of_three[0]) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT egress_budget.lock_window('any', 'binance')")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"SET ROLE {OWNER_ROLE}")
        row = conn.execute(
            "SELECT r.rolcanlogin, pg_has_role(current_user, r.oid, 'MEMBER') FROM pg_roles r WHERE r.rolname = %s",
            (OWNER_ROLE,),
        ).fetchone()
        assert row == (False, False)
