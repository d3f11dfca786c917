"""The shared exchange budget: one small schema, `egress_budget`, in the tenant database, shared by every instance.

Venues such as Binance limit request weight per IP, and every instance behind one egress IP (one host, or one
NAT gateway on Kubernetes) spends the same budget. Each instance's role is enrolled in one egress pool (the
instances that leave through one IP); per (pool, venue) the schema keeps a window counter and a ban-until.

Tenant roles reach it only through two SECURITY DEFINER functions and never read a table:
- `acquire(venue, weight)` → (wait_seconds, banned): 0 means granted and counted; otherwise nothing is counted
  and the caller waits that long (the window's end, the ban's end) before asking again;
- `report_ban(venue, seconds)`: a 418/ban seen by one instance holds back every instance of its pool, for at
  most `MAX_BAN_SECONDS`, and only from a role that was granted a request since the last ban ended.
Only counts and venue names are stored against a pool; a role's own row (its pool and an opaque number) is read
by the functions alone. The venue limits come from the adapters' `ip_limit` (never from the caller), and no
sharer takes more than an even share of a window while another sharer of the pool still wants its own.
"""

from __future__ import annotations

import re
import socket

import psycopg
from psycopg import sql

from tallyhold.exchanges.registry import ADAPTERS

SCHEMA = "egress_budget"
OWNER_ROLE = "tallyhold_egress_budget"
# A ban reported by one instance holds the whole pool back for at most this long; after it, one request per
# instance probes the venue again (and a real, longer ban is reported again). A forged report cannot do more.
MAX_BAN_SECONDS = 900
POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

Conn = psycopg.Connection[tuple[object, ...]]

_TABLES = """
CREATE TABLE IF NOT EXISTS egress_budget.sharer (
    role_name name PRIMARY KEY,
    pool text NOT NULL CHECK (pool ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    id bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE TABLE IF NOT EXISTS egress_budget.venue_limit (
    venue text PRIMARY KEY CHECK (venue ~ '^[a-z0-9]{1,32}$'),
    budget integer NOT NULL CHECK (budget > 0),
    window_seconds integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 3600)
);
CREATE TABLE IF NOT EXISTS egress_budget.venue_window (
    pool text NOT NULL,
    venue text NOT NULL,
    window_start timestamptz NOT NULL,
    used integer NOT NULL DEFAULT 0,
    carried integer NOT NULL DEFAULT 0,
    banned_until timestamptz,
    PRIMARY KEY (pool, venue)
);
CREATE TABLE IF NOT EXISTS egress_budget.spend (
    pool text NOT NULL,
    venue text NOT NULL,
    sharer bigint NOT NULL,
    window_start timestamptz NOT NULL,
    used integer NOT NULL,
    last_grant timestamptz NOT NULL,
    PRIMARY KEY (pool, venue, sharer, window_start)
);
"""

# Windows are fixed and aligned to the clock, as Binance's minutes are. A request granted in the last moments of a
# window may reach the venue in the next one (the worker's pipe, the database, the network, clock skew): what is
# granted in the window's last GUARD seconds (a quarter of the window, at most one second) is counted again in the
# next window, so that no window of the venue sees more than the budget even then.
_ACQUIRE = """
CREATE OR REPLACE FUNCTION egress_budget.acquire(p_venue text, p_weight integer,
    OUT wait_seconds double precision, OUT banned boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_pool text; v_sharer bigint; v_budget integer; v_window integer;
    v_start timestamptz; v_end timestamptz; v_guard double precision;
    w egress_budget.venue_window%ROWTYPE;
    v_others integer; v_mine integer; v_fair double precision; v_reserve double precision;
BEGIN
    SELECT s.pool, s.id INTO v_pool, v_sharer FROM egress_budget.sharer s WHERE s.role_name = session_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'egress_budget_not_enrolled' USING ERRCODE = '42501';
    END IF;
    SELECT l.budget, l.window_seconds INTO v_budget, v_window FROM egress_budget.venue_limit l WHERE l.venue = p_venue;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'egress_budget_unknown_venue' USING ERRCODE = '22023';
    END IF;
    IF p_weight IS NULL OR p_weight < 1 OR p_weight > v_budget THEN
        RAISE EXCEPTION 'egress_budget_bad_weight' USING ERRCODE = '22023';
    END IF;
    v_start := to_timestamp(floor(extract(epoch FROM v_now) / v_window) * v_window);
    v_end := v_start + make_interval(secs => v_window);
    INSERT INTO egress_budget.venue_window (pool, venue, window_start) VALUES (v_pool, p_venue, v_start)
        ON CONFLICT (pool, venue) DO NOTHING;
    SELECT * INTO w FROM egress_budget.venue_window t WHERE t.pool = v_pool AND t.venue = p_venue FOR UPDATE;
    IF w.banned_until IS NOT NULL AND w.banned_until > v_now THEN
        wait_seconds := extract(epoch FROM w.banned_until - v_now);
        banned := true;
        RETURN;
    END IF;
    banned := false;
    IF w.window_start < v_start THEN
        w.used := CASE WHEN w.window_start = v_start - make_interval(secs => v_window) THEN w.carried ELSE 0 END;
        UPDATE egress_budget.venue_window t SET window_start = v_start, used = w.used, carried = 0
            WHERE t.pool = v_pool AND t.venue = p_venue;
        DELETE FROM egress_budget.spend sp WHERE sp.pool = v_pool AND sp.venue = p_venue
            AND sp.window_start < v_start - make_interval(secs => v_window);
    END IF;
    IF w.used + p_weight > v_budget THEN
        wait_seconds := extract(epoch FROM v_end - v_now);
        RETURN;
    END IF;
    -- An even share per sharer active in this window or the last one. Beyond its share a sharer only gets what
    -- leaves every other active sharer its own share; its first request of a window always fits unless heavy.
    SELECT count(DISTINCT sp.sharer) FILTER (WHERE sp.sharer <> v_sharer),
           coalesce(sum(sp.used) FILTER (WHERE sp.sharer = v_sharer AND sp.window_start = v_start), 0)
        INTO v_others, v_mine
        FROM egress_budget.spend sp WHERE sp.pool = v_pool AND sp.venue = p_venue;
    v_fair := v_budget::double precision / (v_others + 1);
    IF v_mine + p_weight > v_fair AND (v_mine > 0 OR p_weight > v_budget / 10) THEN
        SELECT coalesce(sum(greatest(0, v_fair - o.current_used)), 0) INTO v_reserve FROM (
            SELECT coalesce(sum(sp.used) FILTER (WHERE sp.window_start = v_start), 0) AS current_used
            FROM egress_budget.spend sp WHERE sp.pool = v_pool AND sp.venue = p_venue AND sp.sharer <> v_sharer
            GROUP BY sp.sharer) o;
        IF w.used + p_weight + v_reserve > v_budget THEN
            wait_seconds := extract(epoch FROM v_end - v_now);
            RETURN;
        END IF;
    END IF;
    v_guard := least(1.0, v_window / 4.0);
    UPDATE egress_budget.venue_window t
        SET used = t.used + p_weight,
            carried = t.carried + CASE WHEN extract(epoch FROM v_end - v_now) < v_guard THEN p_weight ELSE 0 END
        WHERE t.pool = v_pool AND t.venue = p_venue;
    INSERT INTO egress_budget.spend AS sp (pool, venue, sharer, window_start, used, last_grant)
        VALUES (v_pool, p_venue, v_sharer, v_start, p_weight, v_now)
        ON CONFLICT (pool, venue, sharer, window_start) DO UPDATE SET used = sp.used + p_weight, last_grant = v_now;
    wait_seconds := 0;
END
$fn$;
"""

_REPORT_BAN = """
CREATE OR REPLACE FUNCTION egress_budget.report_ban(p_venue text, p_seconds double precision)
RETURNS double precision
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_pool text; v_sharer bigint; v_seconds double precision; v_until timestamptz;
BEGIN
    SELECT s.pool, s.id INTO v_pool, v_sharer FROM egress_budget.sharer s WHERE s.role_name = session_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'egress_budget_not_enrolled' USING ERRCODE = '42501';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM egress_budget.venue_limit l WHERE l.venue = p_venue) THEN
        RAISE EXCEPTION 'egress_budget_unknown_venue' USING ERRCODE = '22023';
    END IF;
    IF p_seconds IS NULL OR p_seconds = 'NaN'::double precision THEN
        RAISE EXCEPTION 'egress_budget_bad_seconds' USING ERRCODE = '22023';
    END IF;
    v_seconds := least(greatest(p_seconds, 1), %(max_ban)s);
    INSERT INTO egress_budget.venue_window (pool, venue, window_start) VALUES (v_pool, p_venue, v_now)
        ON CONFLICT (pool, venue) DO NOTHING;
    SELECT t.banned_until INTO v_until FROM egress_budget.venue_window t
        WHERE t.pool = v_pool AND t.venue = p_venue FOR UPDATE;
    -- Only a request granted since the last ban ended can have been answered with a new ban.
    IF NOT EXISTS (SELECT 1 FROM egress_budget.spend sp
                   WHERE sp.pool = v_pool AND sp.venue = p_venue AND sp.sharer = v_sharer
                     AND sp.last_grant >= coalesce(v_until, '-infinity'::timestamptz)
                     AND sp.last_grant >= v_now - make_interval(secs => %(max_ban)s)) THEN
        RETURN 0;
    END IF;
    UPDATE egress_budget.venue_window t
        SET banned_until = greatest(coalesce(t.banned_until, v_now), v_now + make_interval(secs => v_seconds))
        WHERE t.pool = v_pool AND t.venue = p_venue;
    RETURN v_seconds;
END
$fn$;
"""

FUNCTIONS = ("acquire(text, integer)", "report_ban(text, double precision)")


def default_pool() -> str:
    """One pool per host: the host name, lowercased, with anything outside [a-z0-9._-] made a dash."""
    name = re.sub(r"[^a-z0-9._-]", "-", socket.gethostname().lower()).strip("-._") or "host"
    return name[:63]


def check_pool(pool: str) -> str:
    if not POOL_NAME.fullmatch(pool):
        raise ValueError("an egress pool name is 1-63 characters of a-z, 0-9, '.', '_' and '-'")
    return pool


def ensure_schema(admin: Conn) -> None:
    """Creates or updates the schema, its owner role and its functions (idempotent), and stores each venue's
    planned budget from the adapters' documented per-IP limits."""
    owner = sql.Identifier(OWNER_ROLE)
    if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (OWNER_ROLE,)).fetchone() is None:
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(owner))
    admin.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(owner))
    admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(owner))
    admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(sql.Identifier(SCHEMA), owner))
    admin.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(SCHEMA)))
    admin.execute(sql.SQL("SET ROLE {}").format(owner))
    try:
        admin.execute(_TABLES)
        admin.execute(_ACQUIRE)
        admin.execute(_REPORT_BAN.replace("%(max_ban)s", str(MAX_BAN_SECONDS)))
        for function in FUNCTIONS:
            admin.execute(sql.SQL(f"REVOKE ALL ON FUNCTION {SCHEMA}.{function} FROM PUBLIC"))
        for venue, adapter in sorted(ADAPTERS.items()):
            if adapter.ip_limit is not None:
                set_venue_limit(admin, venue, adapter.ip_limit.budget, adapter.ip_limit.window_seconds)
    finally:
        admin.execute("RESET ROLE")


def set_venue_limit(admin: Conn, venue: str, budget: int, window_seconds: int) -> None:
    """The budget every pool plans to spend on `venue` per window (the adapters' numbers; tests shorten them)."""
    admin.execute(
        "INSERT INTO egress_budget.venue_limit (venue, budget, window_seconds) VALUES (%s, %s, %s) "
        "ON CONFLICT (venue) DO UPDATE SET budget = excluded.budget, window_seconds = excluded.window_seconds",
        (venue, budget, window_seconds),
    )


def enroll(admin: Conn, app_role: str, pool: str) -> None:
    """The instance role may ask for budget, in `pool` (set here, never by the instance)."""
    admin.execute(
        "INSERT INTO egress_budget.sharer (role_name, pool) VALUES (%s, %s) "
        "ON CONFLICT (role_name) DO UPDATE SET pool = excluded.pool",
        (app_role, check_pool(pool)),
    )
    role = sql.Identifier(app_role)
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), role))
    for function in FUNCTIONS:
        admin.execute(sql.SQL(f"GRANT EXECUTE ON FUNCTION {SCHEMA}.{function} TO {{}}").format(role))


def withdraw(admin: Conn, app_role: str) -> None:
    if admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone() is not None:
        admin.execute("DELETE FROM egress_budget.sharer WHERE role_name = %s", (app_role,))
