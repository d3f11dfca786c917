"""Prometheus metrics, all prefixed `tallyhold_`. Labels are low-cardinality codes (route templates, source
kinds, outcomes, connection ids); never an amount, an address, a key hint, a customer name or a secret."""

from __future__ import annotations

import re
import socket
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

HTTP_REQUEST_DURATION = Histogram(
    "tallyhold_http_request_duration_seconds",
    "Time to answer an API request, by route template.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
API_ERRORS = Counter(
    "tallyhold_api_errors_total",
    "API answers with an error body (any status other than 2xx), by stable error code.",
    ["code"],
)
# Error codes are snake_case literals written in our code; anything else (a code built from outside text by
# mistake) is counted as `other` rather than becoming a label value.
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
CREDENTIALS_REJECTED = Counter(
    "tallyhold_credentials_rejected_total",
    "Exchange keys refused, before storage or on a sync (sync/), by error code (write_permissions, "
    "invalid_credentials, key_revoked, ...).",
    ["code"],
)
# Vault / OpenBao (credentials/vault.py). `op` is one of our operation names (encrypt, decrypt, rewrap, login,
# renew, lookup); outcomes are ok, unavailable, denied, rejected.
VAULT_REQUESTS = Counter(
    "tallyhold_vault_requests_total", "Requests to Vault, by operation and outcome.", ["op", "outcome"]
)
VAULT_REQUEST_DURATION = Histogram(
    "tallyhold_vault_request_duration_seconds",
    "Time of one Vault request (a batch of up to 200 items counts once), by operation.",
    ["op"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
VAULT_LOGINS = Counter(
    "tallyhold_vault_logins_total", "Logins to Vault, by auth method and outcome.", ["method", "outcome"]
)
VAULT_TOKEN_RENEWALS = Counter(
    "tallyhold_vault_token_renewals_total", "Renewals of the Vault token, by outcome.", ["outcome"]
)
VAULT_TOKEN_TTL = Gauge("tallyhold_vault_token_ttl_seconds", "Remaining lifetime of the Vault token when last known.")
VAULT_UP = Gauge("tallyhold_vault_up", "1 while the instance can use Vault, 0 while it cannot (credentials unusable).")
VAULT_DECRYPT_FAILURES = Counter(
    "tallyhold_vault_decrypt_failures_total",
    "Stored ciphertexts Vault refused to decrypt (swapped, tampered, too old, key destroyed), by reason.",
    ["reason"],
)
INSTANCE_INFO = Gauge("tallyhold_instance_info", "Always 1; carries the instance version.", ["version"])

SECRET_MATERIAL_REFUSED = Counter(
    "tallyhold_secret_material_refused_total",
    "Wallet requests refused because a field held secret material (private key, WIF, xprv, recovery phrase).",
    ["kind"],
)


def count_api_error(code: str) -> None:
    API_ERRORS.labels(code if _ERROR_CODE.fullmatch(code) else "other").inc()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """A scrape is not worth a line on stderr (which is the instance's log)."""


def start_metrics_server(host: str, port: int) -> None:
    """Serve `/metrics` on its own port, so scraping never competes with (or is exposed as) the API.

    As prometheus_client's `start_http_server` (its threaded WSGI server, on the address family of `host`), but
    its thread waits for a connection without waking: `serve_forever`'s default looks every 0.5 s whether it was
    asked to shut down, two wake-ups a second of every idle instance on a host of many. Nothing shuts it down:
    the thread is a daemon and ends with the process."""
    if not port:
        return
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]

    class MetricsServer(ThreadingWSGIServer):
        address_family = family  # read when the socket is made: per server, so a class per call

    server = make_server(str(address[0]), port, make_wsgi_app(), MetricsServer, handler_class=_QuietHandler)
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": _NEVER_SHUT_DOWN}, name="tallyhold-metrics", daemon=True
    )
    serving.start()


_NEVER_SHUT_DOWN = 24 * 3600.0  # seconds between looks at a shutdown request that never comes


# Sync engine (sync/) ----------------------------------------------------------------------------------------
# Buckets from a fast chain read to a slow exchange behind a retrying CDN.
_SYNC_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)

SYNC_RUNS = Counter(
    "tallyhold_sync_runs_total",
    "Sync attempts of a source, by source kind and outcome "
    "(success, failed, error, quarantined, paused, superseded, skipped).",
    ["kind", "outcome"],
)
SYNC_ERRORS = Counter(
    "tallyhold_sync_errors_total",
    "Failed syncs by source kind and stable error code (timeout, rate_limited, banned, invalid_credentials, ...).",
    ["kind", "code"],
)
SYNC_SKIPS = Counter(
    "tallyhold_sync_skips_total",
    "Syncs not attempted, by reason (breaker_open, held, backoff, busy, error, quarantined, egress_budget_queue).",
    ["kind", "reason"],
)
SYNC_DURATION = Histogram(
    "tallyhold_sync_duration_seconds",
    "Duration of one source's sync (egress call and database write), by source kind.",
    ["kind"],
    buckets=_SYNC_BUCKETS,
)
SYNC_LAST_SUCCESS = Gauge(
    "tallyhold_sync_last_success_timestamp_seconds",
    "Unix time of the last successful sync, per connection id (an internal uuid, never a label or address).",
    ["connection_id"],
)
SYNC_INTERVAL = Gauge("tallyhold_sync_interval_seconds", "The configured interval between two syncs of a source.")
SYNC_IN_FLIGHT = Gauge("tallyhold_sync_in_flight", "Sources being synced right now.")
SOURCES = Gauge(
    "tallyhold_sources",
    "Connections that sync (exchanges, wallets), by kind and sync state (ok, stale, error, quarantined, never).",
    ["kind", "state"],
)
QUARANTINES = Counter(
    "tallyhold_quarantines_total", "Keys quarantined because the exchange reported write permissions on them."
)
BREAKER_OPEN = Gauge(
    "tallyhold_breaker_open",
    "1 while a venue's circuit breaker is open (no call goes to it), by venue and reason.",
    ["venue", "reason"],
)
RATE_LIMITED = Counter(
    "tallyhold_rate_limited_total",
    "Answers that told us to slow down, by venue and code (rate_limited = 429, banned = 418).",
    ["venue", "code"],
)
EGRESS_BUDGET_WAIT = Counter(
    "tallyhold_egress_budget_wait_seconds_total",
    "Seconds the exchange budget shared by the instances of one egress IP told this instance's calls to wait, by "
    "venue and reason (window = the pool's budget for the window is spent, banned = the pool is held back).",
    ["venue", "reason"],
)
EGRESS_WORKER_SLOT_WAITS = Counter(
    "tallyhold_egress_worker_slot_waits_total",
    "Egress worker starts that found every worker slot of the host taken (EGRESS_WORKER_SLOTS_DIR), by outcome: "
    "`taken` (one came free within the wait) or `busy` (none did: the call failed as transient).",
    ["outcome"],
)
EGRESS_WORKER_FORKS = Counter(
    "tallyhold_egress_worker_forks_total",
    "Egress worker starts that asked the host's fork server (EGRESS_FORKSERVER_SOCKET), by result: `forked` (a "
    "worker with its libraries already loaded) or `unavailable` (no server, no answer in time, or a refusal: the "
    "worker was started by the instance itself, at the full import cost).",
    ["result"],
)
EGRESS_WORKER_STARTS = Counter(
    "tallyhold_egress_worker_starts_total",
    "Egress worker processes this instance started (each start costs its imports' CPU, ~1.7 s; one per sync "
    "cycle is the aim: more means the instance's calls come further apart than the worker's idle time).",
)
EGRESS_BUDGET_HOLD_BACKS = Counter(
    "tallyhold_egress_budget_hold_backs_total",
    "Bans and 429s this instance reported to its egress pool, which then holds every instance back, by venue.",
    ["venue"],
)

# Scheduler ---------------------------------------------------------------------------------------------------
SCHEDULER_LAG = Histogram(
    "tallyhold_scheduler_lag_seconds",
    "Delay between a job's scheduled time and when it started, by job type.",
    ["job"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300),
)
SCHEDULER_MISSED = Counter(
    "tallyhold_scheduler_missed_total", "Jobs that started too late and were skipped, by job type.", ["job"]
)
SCHEDULER_JOBS = Gauge("tallyhold_scheduler_jobs", "Jobs scheduled, by job type.", ["job"])
SCHEDULER_HEARTBEAT = Gauge(
    "tallyhold_scheduler_heartbeat_timestamp_seconds", "Unix time the scheduler last reconciled its jobs."
)

# Prices ------------------------------------------------------------------------------------------------------
PRICE_REFRESHES = Counter(
    "tallyhold_price_refreshes_total", "Price refreshes, by outcome (success, partial, failed).", ["outcome"]
)
PRICE_VENUE_ERRORS = Counter(
    "tallyhold_price_venue_errors_total", "Price venues that failed to answer, by venue and code.", ["venue", "code"]
)
PRICE_LAST_SUCCESS = Gauge(
    "tallyhold_price_last_success_timestamp_seconds", "Unix time of the last refresh that priced at least one asset."
)
PRICE_OLDEST_AGE = Gauge(
    "tallyhold_price_oldest_age_seconds", "Age of the oldest market price among the assets held (0 when none)."
)
PRICES_STALE = Gauge("tallyhold_prices_stale", "Assets held whose market price is older than the stale threshold.")
ASSETS_UNPRICED = Gauge("tallyhold_assets_unpriced", "Assets held that no price venue could price.")

# History -----------------------------------------------------------------------------------------------------
HISTORY_POINTS = Gauge("tallyhold_history_points", "Net-worth history rows, by resolution.", ["resolution"])
PORTFOLIO_ANSWERS_COMPUTED = Counter(
    "tallyhold_portfolio_answers_computed_total",
    "Portfolio answers (net worth, balances, dashboard) computed, by path: `request` (a request waited for it) or "
    "`refresh` (recomputed off the request path after background writes).",
    ["path"],
)

# The event loop -----------------------------------------------------------------------------------------------
EVENT_LOOP_LAG = Histogram(
    "tallyhold_event_loop_lag_seconds",
    "How late a 1 s timer fires on the instance's event loop: anything blocking the loop when it is due shows here.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
