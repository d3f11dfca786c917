"""The shared exchange budget: one small schema, `egress_budget`, in the tenant database, shared by every instance.

Venues such as Binance limit request weight per IP, and every instance behind one egress IP (one host, or one
NAT gateway on Kubernetes) spends the same budget. Each instance's role is enrolled in one egress pool (the
instances that leave through one IP); per (pool, venue) the schema keeps a window counter and a ban-until.

Tenant roles reach it only through two SECURITY DEFINER functions and never read a table:
- `acquire(venue, weight, interactive)` → (wait_seconds, hold): 0 means granted and counted; otherwise nothing is
  counted and the caller waits that long before asking again: `hold` is NULL when the window is spent (wait for
  its end), or 'rate_limited' / 'banned' while the pool is held back (a venue answered 429 / 418); `interactive`
  (default false): a customer waits on this request (a key check), which the pool's small lane serves ahead of
  the queue;
- `report_ban(venue, seconds, banned)`: a 418 (banned) or a 429 with Retry-After seen by one instance holds back
  every instance of its pool, for at most `MAX_BAN_SECONDS`, and only from a role that was granted a request
  since the last ban ended.
Only counts, times and venue names are stored against a pool; a role's own row (its pool and an opaque number) is
read by the functions alone. The venue limits come from the adapters' `ip_limit` (never from the caller). When a
window cannot serve everyone, the refused sharers queue in order (`place`): what a waiting sharer asked for is kept
from every sharer behind it, nothing is kept for a sharer that waits for nothing.
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
# The interactive lane (key checks a customer waits on, granted ahead of the queue): 1/50 of each window's
# budget, e.g. 96 of Binance's 4,800 a minute, 96 key checks (weight 1 each). The most a sharer claiming every
# request interactive can take ahead of the others.
INTERACTIVE_SHARE = 50
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
-- The pool's queue for a venue: a sharer's place (since), the weight it was refused and still waits for (wanted,
-- 0 once served), when it was told to come back (due), and when its place lapses (until). Added after the first
-- release of this schema, like held_for_ban: existing schemas get it on the next provisioning run.
CREATE TABLE IF NOT EXISTS egress_budget.place (
    pool text NOT NULL,
    venue text NOT NULL,
    sharer bigint NOT NULL,
    since timestamptz NOT NULL,
    wanted integer NOT NULL,
    due timestamptz NOT NULL,
    until timestamptz NOT NULL,
    spent integer NOT NULL,
    PRIMARY KEY (pool, venue, sharer)
);
"""

# Columns added after the first release of this schema: existing schemas get them on the next provisioning run.
# Each is added only when missing: ALTER TABLE takes an ACCESS EXCLUSIVE lock even when IF NOT EXISTS then finds
# the column, and every `create` runs `ensure_schema` while the host's instances are inside the functions that read
# and write these tables. Such a lock stalls every sharer's budget question until the create commits, and taken in
# another order than a sharer's it deadlocks (seen: a create failed `deadlock detected` beside running instances).
ADDED_COLUMNS = (
    # true: the hold is a ban (418); false: a rate limit (429 with Retry-After).
    ("venue_window", "held_for_ban", "boolean NOT NULL DEFAULT true"),
    # The heaviest single request of the venue (the adapter's weights): no request may ask for more, so a sharer
    # at the head of the queue keeps at most that much of a window from the sharers behind it, never the whole
    # window. NULL (a schema made before it, until the next provisioning run): the budget.
    ("venue_limit", "max_weight", "integer CHECK (max_weight > 0)"),
    # The interactive lane: of each window, `interactive_reserve` is left by the queue to requests a customer
    # waits on (key checks), which the pool grants ahead of the queue up to that much per window
    # (`interactive_used`), whoever asks. 0: no lane.
    ("venue_limit", "interactive_reserve", "integer NOT NULL DEFAULT 0 CHECK (interactive_reserve >= 0)"),
    ("venue_window", "interactive_used", "integer NOT NULL DEFAULT 0"),
)

# Both functions serialise on their pool's row for the rest of the caller's transaction, and a tenant may keep its
# transaction open as long as it likes (its statement and idle timeouts are its own to change). So whoever is seen
# holding it at two LOCK_WAIT timeouts in a row is cut off. The row is reached under a transaction-level advisory
# lock on the pool, which pg_locks (readable by everyone) names with its holder's backend; the owner role may end a
# sharer's backend (pg_signal_backend; never a superuser's). An instance holds it for one statement and its commit.
# The lock is the pool's, not the (pool, venue)'s: pg_locks would otherwise tell every role which venue another
# customer's backend is calling.
LOCK_WAIT = "2s"
# The queue's timing (seconds, at most; a quarter of the window and the whole window for short windows): a served
# sharer keeps its place while its next request follows within GAP_SECONDS (the requests of one sync follow each
# other within a round trip to the venue); a refused one keeps it until GRACE_SECONDS after it was due back (an
# instance told to come back in minutes reschedules the sync, which then claims it, builds its request and may
# start its egress worker first).
GAP_SECONDS = 5
GRACE_SECONDS = 30
ADVISORY_NAMESPACE = 0x7E6B  # the first key of this schema's advisory locks; the second is the pool's hash
_LOCK_WINDOW = """
CREATE OR REPLACE FUNCTION egress_budget.lock_window(p_pool text, p_venue text)
RETURNS egress_budget.venue_window
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '%(lock_wait)s' AS $fn$
DECLARE
    w egress_budget.venue_window%ROWTYPE;
    v_key integer := hashtext(p_pool);
    v_locked boolean := false;
    v_holders integer[] := '{}';
    v_holders_now integer[];
BEGIN
    -- Cut off is a holder seen at two timeouts in a row, not one that happens to hold it (for milliseconds) when
    -- a caller's wait ends: many callers queued behind a hostile holder time out while the queue drains.
    FOR attempt IN 1..3 LOOP
        BEGIN
            PERFORM pg_advisory_xact_lock(%(namespace)s, v_key);
            v_locked := true;
            EXIT;
        EXCEPTION WHEN lock_not_available THEN
            SELECT coalesce(array_agg(l.pid), '{}') INTO v_holders_now
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
                  AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
                  AND l.classid = %(namespace)s::oid AND l.objid = (v_key::bigint & 4294967295)::oid AND l.objsubid = 2
                  AND a.usename IN (SELECT s.role_name FROM egress_budget.sharer s);
            PERFORM pg_terminate_backend(h, 2000) FROM unnest(v_holders_now) h WHERE h = ANY(v_holders);
            v_holders := v_holders_now;
        END;
    END LOOP;
    IF NOT v_locked THEN
        RAISE EXCEPTION 'egress_budget_busy' USING ERRCODE = '55P03';
    END IF;
    INSERT INTO egress_budget.venue_window (pool, venue, window_start) VALUES (p_pool, p_venue, '-infinity')
        ON CONFLICT (pool, venue) DO NOTHING;
    SELECT * INTO w FROM egress_budget.venue_window t WHERE t.pool = p_pool AND t.venue = p_venue FOR UPDATE;
    RETURN w;
END
$fn$;
"""

# Windows are fixed and aligned to the clock, as Binance's minutes are. A request granted in the last moments of a
# window may reach the venue in the next one (the worker's pipe, the database, the network, clock skew): what is
# granted in the window's last GUARD seconds (a quarter of the window, at most one second) is counted again in the
# next window, so that no window of the venue sees more than the budget even then.
#
# Who goes first when the window cannot serve everyone: a queue, in order of place. A refused sharer takes a place
# (or keeps the one it has) and is told when to come back; from then until it is served, what it asked for is
# kept from everyone behind it, so a sharer grabbing each window as it opens cannot keep it from ever being
# granted, and the first in the queue is always served once the window has its weight. Nothing is kept for a
# sharer that is not waiting (it was served, or never asked): the window is anyone's until someone waits.
# A sharer keeps its place across the requests of one burst (one sync: its requests follow each other within
# GAP), so a sync that met a spent window finishes first in the next one instead of queueing again for each of
# its requests; but only for QUANTUM weight (a quarter of the budget: a Binance sync is ~350 of 4,800), after
# which it queues behind every sharer that waits. A place lapses GRACE after the sharer was due back and did not
# come (it gave up: the wait was longer than it would wait).
#
# The interactive lane: a request a customer waits on (`p_interactive`: a key check; the instance says so) is
# granted ahead of the queue out of the window's reserve, which the queue leaves unspent; the pool's lane grants
# at most the reserve per window, whoever asks. The flag is the asker's own word, so the lane is what a hostile
# sharer can take ahead of the others by claiming every request interactive: the reserve (2 % of the budget), no
# more, and never beyond the budget. Once the lane is spent, an interactive request queues like any other.
_ACQUIRE = """
CREATE OR REPLACE FUNCTION egress_budget.acquire(p_venue text, p_weight integer, p_interactive boolean DEFAULT false,
    OUT wait_seconds double precision, OUT hold text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_pool text; v_sharer bigint; v_budget integer; v_window integer; v_max_weight integer; v_reserve integer;
    v_lane boolean; v_start timestamptz; v_end timestamptz; v_guard double precision;
    w egress_budget.venue_window%ROWTYPE;
    v_place egress_budget.place%ROWTYPE; v_placed boolean;
    v_due_ahead bigint; v_all_ahead bigint; v_windows integer; v_spent integer;
    v_gap interval; v_grace interval;
BEGIN
    SELECT s.pool, s.id INTO v_pool, v_sharer FROM egress_budget.sharer s WHERE s.role_name = session_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'egress_budget_not_enrolled' USING ERRCODE = '42501';
    END IF;
    SELECT l.budget, l.window_seconds, least(l.budget, coalesce(l.max_weight, l.budget)), l.interactive_reserve
        INTO v_budget, v_window, v_max_weight, v_reserve FROM egress_budget.venue_limit l WHERE l.venue = p_venue;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'egress_budget_unknown_venue' USING ERRCODE = '22023';
    END IF;
    IF p_weight IS NULL OR p_weight < 1 OR p_weight > v_max_weight THEN
        RAISE EXCEPTION 'egress_budget_bad_weight' USING ERRCODE = '22023';
    END IF;
    IF p_interactive IS NULL THEN
        RAISE EXCEPTION 'egress_budget_bad_interactive' USING ERRCODE = '22023';
    END IF;
    v_reserve := greatest(0, least(coalesce(v_reserve, 0), v_budget - v_max_weight));  -- the heaviest always fits
    v_start := to_timestamp(floor(extract(epoch FROM v_now) / v_window) * v_window);
    v_end := v_start + make_interval(secs => v_window);
    v_gap := make_interval(secs => least(v_window / 4.0, %(gap)s));
    v_grace := make_interval(secs => least(v_window, %(grace)s));
    w := egress_budget.lock_window(v_pool, p_venue);
    IF w.banned_until IS NOT NULL AND w.banned_until > v_now THEN
        wait_seconds := extract(epoch FROM w.banned_until - v_now);
        hold := CASE WHEN w.held_for_ban THEN 'banned' ELSE 'rate_limited' END;
        RETURN;
    END IF;
    hold := NULL;
    IF w.window_start < v_start THEN
        w.used := CASE WHEN w.window_start = v_start - make_interval(secs => v_window) THEN w.carried ELSE 0 END;
        w.interactive_used := 0;
        UPDATE egress_budget.venue_window t SET window_start = v_start, used = w.used, carried = 0, interactive_used = 0
            WHERE t.pool = v_pool AND t.venue = p_venue;
        DELETE FROM egress_budget.spend sp WHERE sp.pool = v_pool AND sp.venue = p_venue
            AND sp.window_start < v_start - make_interval(secs => v_window);
        DELETE FROM egress_budget.place q WHERE q.pool = v_pool AND q.venue = p_venue
            AND q.until < v_start - make_interval(secs => v_window);
    END IF;
    SELECT * INTO v_place FROM egress_budget.place q
        WHERE q.pool = v_pool AND q.venue = p_venue AND q.sharer = v_sharer AND q.until >= v_now;
    v_placed := FOUND;
    -- What the sharers ahead of this one wait for: kept from it if they are due back now, and in any case ahead
    -- of it in the estimate of its wait. A sharer without a place is behind every sharer with one.
    SELECT coalesce(sum(q.wanted) FILTER (WHERE q.due <= v_now), 0), coalesce(sum(q.wanted), 0)
        INTO v_due_ahead, v_all_ahead
        FROM egress_budget.place q
        WHERE q.pool = v_pool AND q.venue = p_venue AND q.sharer <> v_sharer AND q.wanted > 0 AND q.until >= v_now
          AND (NOT v_placed OR (q.since, q.sharer) < (v_place.since, v_sharer));
    v_lane := p_interactive AND w.interactive_used + p_weight <= v_reserve AND w.used + p_weight <= v_budget;
    -- The queue leaves what the lane has not granted yet of this window.
    IF NOT v_lane AND w.used + p_weight + v_due_ahead + greatest(0, v_reserve - w.interactive_used) > v_budget THEN
        -- Served once what is ahead of it and its own weight have gone out: whole windows (less the lane) after
        -- this one.
        v_windows := greatest(1, ceil((v_all_ahead + p_weight
                                       - greatest(0, v_budget - greatest(0, v_reserve - w.interactive_used) - w.used)
                                      )::double precision / (v_budget - v_reserve))::integer);
        wait_seconds := extract(epoch FROM v_end - v_now) + (v_windows - 1) * v_window;
        INSERT INTO egress_budget.place AS q (pool, venue, sharer, since, wanted, due, until, spent)
            VALUES (v_pool, p_venue, v_sharer, v_now, p_weight, v_now + make_interval(secs => wait_seconds),
                    v_now + make_interval(secs => wait_seconds) + v_grace, 0)
            ON CONFLICT (pool, venue, sharer) DO UPDATE SET
                since = CASE WHEN v_placed THEN q.since ELSE excluded.since END,
                spent = CASE WHEN v_placed THEN q.spent ELSE 0 END,
                wanted = excluded.wanted, due = excluded.due, until = excluded.until;
        RETURN;
    END IF;
    v_guard := least(1.0, v_window / 4.0);
    UPDATE egress_budget.venue_window t
        SET used = t.used + p_weight,
            carried = t.carried + CASE WHEN extract(epoch FROM v_end - v_now) < v_guard THEN p_weight ELSE 0 END,
            interactive_used = t.interactive_used + CASE WHEN v_lane THEN p_weight ELSE 0 END
        WHERE t.pool = v_pool AND t.venue = p_venue;
    INSERT INTO egress_budget.spend AS sp (pool, venue, sharer, window_start, used, last_grant)
        VALUES (v_pool, p_venue, v_sharer, v_start, p_weight, v_now)
        ON CONFLICT (pool, venue, sharer, window_start) DO UPDATE SET used = sp.used + p_weight, last_grant = v_now;
    IF v_lane THEN
        wait_seconds := 0;
        RETURN;  -- ahead of the queue: the sharer's place in it (a sync of its own waiting) stays as it was
    END IF;
    -- Served: it waits for nothing now, and keeps its place for the rest of its burst, up to the quantum.
    v_spent := CASE WHEN v_placed THEN v_place.spent ELSE 0 END + p_weight;
    INSERT INTO egress_budget.place AS q (pool, venue, sharer, since, wanted, due, until, spent)
        VALUES (v_pool, p_venue, v_sharer, CASE WHEN v_placed THEN v_place.since ELSE v_now END, 0, v_now,
                CASE WHEN v_spent > v_budget / 4 THEN '-infinity' ELSE v_now + v_gap END, v_spent)
        ON CONFLICT (pool, venue, sharer) DO UPDATE SET
            since = excluded.since, wanted = 0, due = excluded.due, until = excluded.until, spent = excluded.spent;
    wait_seconds := 0;
END
$fn$;
"""

_REPORT_BAN = """
CREATE OR REPLACE FUNCTION egress_budget.report_ban(p_venue text, p_seconds double precision, p_banned boolean)
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
    IF p_seconds IS NULL OR p_seconds = 'NaN'::double precision OR p_banned IS NULL THEN
        RAISE EXCEPTION 'egress_budget_bad_seconds' USING ERRCODE = '22023';
    END IF;
    v_seconds := least(greatest(p_seconds, 1), %(max_ban)s);
    v_until := (egress_budget.lock_window(v_pool, p_venue)).banned_until;
    -- Only a request granted since the last ban ended can have been answered with a new ban.
    IF NOT EXISTS (SELECT 1 FROM egress_budget.spend sp
                   WHERE sp.pool = v_pool AND sp.venue = p_venue AND sp.sharer = v_sharer
                     AND sp.last_grant >= coalesce(v_until, '-infinity'::timestamptz)
                     AND sp.last_grant >= v_now - make_interval(secs => %(max_ban)s)) THEN
        RETURN 0;
    END IF;
    UPDATE egress_budget.venue_window t
        SET banned_until = greatest(coalesce(t.banned_until, v_now), v_now + make_interval(secs => v_seconds)),
            held_for_ban = CASE WHEN t.banned_until > v_now THEN t.held_for_ban OR p_banned ELSE p_banned END
        WHERE t.pool = v_pool AND t.venue = p_venue;
    RETURN v_seconds;
END
$fn$;
"""

FUNCTIONS = ("acquire(text, integer, boolean)", "report_ban(text, double precision, boolean)")
# Called by the two functions only, as their owner: no tenant may execute it.
INTERNAL_FUNCTIONS = ("lock_window(text, text)",)
# Signatures of earlier releases, dropped when the schema is updated (a tenant could otherwise still call them).
RETIRED_FUNCTIONS = ("report_ban(text, double precision)", "acquire(text, integer)")
# acquire's first release returned (wait_seconds, banned boolean); a result type cannot be replaced in place.
_ACQUIRE_RESULT = "wait_seconds double precision, hold text"


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
    admin.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(owner))  # cuts off a sharer holding a pool row
    admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(sql.Identifier(SCHEMA), owner))
    admin.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(SCHEMA)))
    admin.execute(sql.SQL("SET ROLE {}").format(owner))
    try:
        admin.execute(_TABLES)
        for table, column, definition in ADDED_COLUMNS:
            if not _has_column(admin, table, column):
                admin.execute(sql.SQL(f"ALTER TABLE {SCHEMA}.{table} ADD COLUMN {column} {definition}"))
        for retired in RETIRED_FUNCTIONS:
            admin.execute(sql.SQL(f"DROP FUNCTION IF EXISTS {SCHEMA}.{retired}"))
        result = admin.execute(
            "SELECT pg_get_function_result(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = 'acquire'",
            (SCHEMA,),
        ).fetchone()
        if result is not None and _ACQUIRE_RESULT not in str(result[0]):
            admin.execute(sql.SQL(f"DROP FUNCTION {SCHEMA}.{FUNCTIONS[0]}"))
        admin.execute(
            _LOCK_WINDOW.replace("%(lock_wait)s", LOCK_WAIT).replace("%(namespace)s", str(ADVISORY_NAMESPACE))
        )
        admin.execute(_ACQUIRE.replace("%(gap)s", str(GAP_SECONDS)).replace("%(grace)s", str(GRACE_SECONDS)))
        admin.execute(_REPORT_BAN.replace("%(max_ban)s", str(MAX_BAN_SECONDS)))
        for function in FUNCTIONS + INTERNAL_FUNCTIONS:
            admin.execute(sql.SQL(f"REVOKE ALL ON FUNCTION {SCHEMA}.{function} FROM PUBLIC"))
        # A function made anew (above) has no grants yet: every enrolled role gets them back.
        for (role,) in admin.execute("SELECT role_name FROM egress_budget.sharer").fetchall():
            for function in FUNCTIONS:
                admin.execute(
                    sql.SQL(f"GRANT EXECUTE ON FUNCTION {SCHEMA}.{function} TO {{}}").format(sql.Identifier(str(role)))
                )
        for venue, adapter in sorted(ADAPTERS.items()):
            if adapter.ip_limit is not None:
                heaviest = max(adapter.weights.values(), default=1)
                budget = adapter.ip_limit.budget
                reserve = budget // INTERACTIVE_SHARE
                set_venue_limit(admin, venue, budget, adapter.ip_limit.window_seconds, heaviest, reserve)
    finally:
        admin.execute("RESET ROLE")


def _has_column(admin: Conn, table: str, column: str) -> bool:
    row = admin.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
        (f"{SCHEMA}.{table}", column),
    ).fetchone()
    return row is not None


def set_venue_limit(
    admin: Conn,
    venue: str,
    budget: int,
    window_seconds: int,
    max_weight: int | None = None,
    interactive_reserve: int = 0,
) -> None:
    """The budget every pool plans to spend on `venue` per window, the most one request may ask for (the
    adapters' numbers; tests shorten them; None: the budget), and the interactive lane's share of each window."""
    admin.execute(
        "INSERT INTO egress_budget.venue_limit (venue, budget, window_seconds, max_weight, interactive_reserve) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (venue) DO UPDATE SET budget = excluded.budget, "
        "window_seconds = excluded.window_seconds, max_weight = excluded.max_weight, "
        "interactive_reserve = excluded.interactive_reserve",
        (venue, budget, window_seconds, max_weight, interactive_reserve),
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
        # Its spend and place too: the counts and times of a customer that is gone are not kept for the pool. A row
        # another sharer's open transaction holds (it is deleting it as old) is left to that, or to the pool's next
        # window.
        for table in ("spend", "place"):
            admin.execute(
                sql.SQL(
                    "DELETE FROM egress_budget.{table} WHERE ctid IN (SELECT t.ctid FROM egress_budget.{table} t "
                    "JOIN egress_budget.sharer s ON t.sharer = s.id WHERE s.role_name = %s FOR UPDATE OF t SKIP LOCKED)"
                ).format(table=sql.Identifier(table)),
                (app_role,),
            )
        admin.execute("DELETE FROM egress_budget.sharer WHERE role_name = %s", (app_role,))
