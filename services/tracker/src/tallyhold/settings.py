"""Instance settings, read from `TALLYHOLD_*` environment variables (or files of `TALLYHOLD_SECRETS_DIR`).

The code reads them in groups (`settings.vault.addr`, `settings.sync.interval_seconds`); the environment keeps
one flat name per setting, written as the field's alias (`TALLYHOLD_` + `VAULT_ADDR`), so deployments, Helm
values and the podman stacks did not change when the groups appeared. `_flat_names` is the one place that maps
the flat names onto the groups.

The settings fail closed: values an instance cannot run safely without have no default, and placeholder
secrets are refused unless the instance explicitly runs in development. The README's configuration table is
generated from the field descriptions below (`tallyhold config-table`) and a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    DirectoryPath,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL, make_url

ENV_PREFIX = "TALLYHOLD_"
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
CUSTOMER_ID = re.compile(r"^t_[0-9a-f]{4,60}$")
CCXT_ID = re.compile(r"^[a-z0-9]{2,32}$")
QUOTE_CURRENCIES = ("USD", "EUR", "GBP", "CHF")

# Values that show up in tutorials, templates and compose files. An instance outside development refuses to
# start with any of them as a password or token.
VAULT_KEY_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "changethis",
        "change-me",
        "password",
        "postgres",
        "secret",
        "root",
        "admin",
        "test",
        "example",
        "tallyhold",
        "dev",
        "devtoken",
        "dev-root-token",
    }
)


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class VaultAuth(StrEnum):
    token = "token"  # noqa: S105 - the name of an auth method, not a secret
    approle = "approle"
    kubernetes = "kubernetes"


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _json_object(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


class _Group(BaseModel):
    # hide_input_in_errors: a validation error must never print the environment it read (passwords, tokens).
    # extra="forbid": only `_regroup` fills a group, so an unknown key is a mistake in this module.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class DatabaseSettings(_Group):
    url: SecretStr = Field(
        alias="DATABASE_URL",
        description="Postgres URL of the instance's app role "
        "(`postgresql://<user>:<password>@<host>:<port>/<db>`). Required.",
    )
    schema_name: str = Field(alias="DB_SCHEMA", description="The customer's schema; every table lives there. Required.")
    migration_url: SecretStr | None = Field(
        None,
        alias="MIGRATION_DATABASE_URL",
        description="URL used by `tallyhold migrate` when it differs from `DATABASE_URL` (the schema owner's "
        "connection). Defaults to `DATABASE_URL`.",
    )
    migration_role: str | None = Field(
        None,
        alias="MIGRATION_ROLE",
        description="Role that `tallyhold migrate` switches to (`SET ROLE`) so objects belong to the schema "
        "owner, not to the login role.",
    )
    pool_size: int = Field(
        5, ge=1, le=50, alias="DB_POOL_SIZE", description="Database connections kept open by the instance."
    )
    sync_pool_size: int = Field(
        2,
        ge=1,
        le=20,
        alias="SYNC_DB_POOL_SIZE",
        description="Database connections of the scheduler and syncs in `tallyhold serve`: a pool apart from the "
        "API's, so syncing never makes requests wait for a connection. At most this many (no overflow): a sync "
        "run's transactions wait for one rather than open and close connections.",
    )

    @field_validator("schema_name")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not SCHEMA_NAME.fullmatch(value) or value in {"public", "pg_catalog", "information_schema"}:
            raise ValueError("must be a lowercase identifier naming the customer's own schema")
        return value

    @field_validator("migration_role")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not SCHEMA_NAME.fullmatch(value):
            raise ValueError("must be a lowercase identifier")
        return value

    @property
    def engine_url(self) -> URL:
        """The app role's URL with the driver SQLAlchemy uses."""
        return _async_url(self.url.get_secret_value())

    @property
    def migration_engine_url(self) -> URL:
        return _async_url((self.migration_url or self.url).get_secret_value())


class VaultSettings(_Group):
    addr: AnyHttpUrl | None = Field(
        None, alias="VAULT_ADDR", description="Vault or OpenBao address, e.g. `https://vault:8200`."
    )
    auth: VaultAuth = Field(VaultAuth.token, alias="VAULT_AUTH", description="`token`, `approle` or `kubernetes`.")
    token: SecretStr | None = Field(None, alias="VAULT_TOKEN", description="Vault token when `VAULT_AUTH=token`.")
    role_id: str | None = Field(None, alias="VAULT_ROLE_ID", description="AppRole role id when `VAULT_AUTH=approle`.")
    secret_id: SecretStr | None = Field(
        None,
        alias="VAULT_SECRET_ID",
        description="AppRole secret id when `VAULT_AUTH=approle` (or deliver it wrapped, below).",
    )
    wrapped_secret_id: SecretStr | None = Field(
        None,
        alias="VAULT_WRAPPED_SECRET_ID",
        description="Response-wrapping token of the AppRole secret id (what the provisioner gives): unwrapped at "
        "the first login and kept in `VAULT_SECRET_ID_FILE`.",
    )
    secret_id_file: str | None = Field(
        None,
        alias="VAULT_SECRET_ID_FILE",
        description="Where the instance keeps the secret id it unwrapped (mode 0600); needed with the above.",
    )
    k8s_role: str | None = Field(
        None, alias="VAULT_K8S_ROLE", description="Kubernetes auth role when `VAULT_AUTH=kubernetes`."
    )
    k8s_jwt_path: str = Field(
        "/var/run/secrets/tallyhold/vault/token",
        alias="VAULT_K8S_JWT_PATH",
        description="Projected service-account token file, re-read at every Kubernetes login.",
    )
    k8s_mount: str = Field(
        "kubernetes", alias="VAULT_K8S_MOUNT", description="Mount path of the Kubernetes auth method."
    )
    approle_mount: str = Field(
        "approle", alias="VAULT_APPROLE_MOUNT", description="Mount path of the AppRole auth method."
    )
    transit_mount: str = Field("transit", alias="VAULT_TRANSIT_MOUNT", description="Mount path of the transit engine.")
    key: str | None = Field(
        None,
        alias="VAULT_KEY",
        description="Name of the customer's transit key (`t_<hex>`; on Kubernetes its namespace, `t-<hex>`).",
    )
    cacert: str | None = Field(None, alias="VAULT_CACERT", description="CA bundle for Vault's TLS certificate.")
    timeout_seconds: float = Field(
        5.0, gt=0, le=60, alias="VAULT_TIMEOUT_SECONDS", description="Timeout of each Vault request."
    )

    @field_validator("key")
    @classmethod
    def _key_name(cls, value: str | None) -> str | None:
        # t_<hex> for AppRole tenants, t-<hex> (the namespace's name) for Kubernetes ones.
        if value is not None and not VAULT_KEY_NAME.fullmatch(value):
            raise ValueError("must be a lowercase name of letters, digits, '_' and '-'")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Self:
        """With a Vault address, everything the chosen login needs must be there: the instance refuses to start
        rather than discover at the first credential that it cannot log in."""
        if self.addr is None:
            return self
        needed = {
            VaultAuth.token: ("token",),
            VaultAuth.approle: ("role_id", "secret_id"),
            VaultAuth.kubernetes: ("k8s_role",),
        }[self.auth]
        wrapped = self.wrapped_secret_id is not None or self.secret_id_file is not None
        if self.auth is VaultAuth.approle and self.secret_id is None and wrapped:
            # Delivered wrapped instead: the wrapping token, and where to keep what it unwraps to.
            needed = ("role_id", "wrapped_secret_id", "secret_id_file")
        fields = type(self).model_fields
        missing = [fields[name].alias or name for name in ("key", *needed) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"VAULT_AUTH={self.auth.value} needs {', '.join(missing)}")
        return self


class PortfolioSettings(_Group):
    quote_currency: str = Field(
        "USD", alias="QUOTE_CURRENCY", description="Currency net worth is expressed in: USD, EUR, GBP or CHF."
    )
    # Not shorter by default: an answer read steadily is recomputed shortly before this age whether or not
    # anything changed (the only way to see another process's writes and the passing of time), a few
    # milliseconds of CPU each. At 2 s (refreshed at half that age) that was a computation a second per customer
    # whose answer is read, the largest part of an instance's CPU on a host of many customers, and at 10 s one
    # every 5 s (bench/bench_capacity.py prints the CPU by kind of process). Those writes are an operator's, and
    # a source turns stale after several sync intervals: half a minute late is still on time for both.
    cache_seconds: float = Field(
        30.0,
        ge=0,
        le=60,
        alias="PORTFOLIO_CACHE_SECONDS",
        description="Longest reuse of a computed `/v1/networth` or `/v1/balances` answer (0 = off). The instance's "
        "API writes are seen at once, its syncs' within about 1 s (refreshed off the request path), writes of "
        "other processes (`tallyhold sync --once`, an operator's psql) and the staleness flags within this time; "
        "an answer read steadily is recomputed off the request path 5 s before this age (at half of it when "
        "under 10 s).",
    )
    history_raw_days: int = Field(
        7, ge=1, le=3650, alias="HISTORY_RAW_DAYS", description="Days net-worth snapshots are kept at full resolution."
    )
    history_hourly_days: int = Field(
        90,
        ge=1,
        le=3650,
        alias="HISTORY_HOURLY_DAYS",
        description="Days of hourly net-worth history; older history is kept daily.",
    )
    history_daily_days: int = Field(
        0, ge=0, le=36_500, alias="HISTORY_DAILY_DAYS", description="Days of daily history kept (0 = forever)."
    )

    @field_validator("quote_currency")
    @classmethod
    def _quote(cls, value: str) -> str:
        value = value.upper()
        if value not in QUOTE_CURRENCIES:
            raise ValueError(f"must be one of {', '.join(QUOTE_CURRENCIES)}")
        return value

    @model_validator(mode="after")
    def _history_tiers(self) -> Self:
        if self.history_hourly_days <= self.history_raw_days:
            raise ValueError("HISTORY_HOURLY_DAYS must be longer than HISTORY_RAW_DAYS")
        if self.history_daily_days and self.history_daily_days <= self.history_hourly_days:
            raise ValueError("HISTORY_DAILY_DAYS must be 0 (forever) or longer than HISTORY_HOURLY_DAYS")
        return self


class PriceSettings(_Group):
    venues: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["binance", "kraken", "coinbase"],
        alias="PRICE_VENUES",
        description="ccxt ids of the exchanges whose public tickers price assets, in order of preference.",
    )
    stale_after_seconds: int = Field(
        3600,
        ge=60,
        le=604_800,
        alias="PRICE_STALE_AFTER_SECONDS",
        description="A price older than this is flagged stale in balances and net worth.",
    )

    @field_validator("venues", mode="before")
    @classmethod
    def _venues(cls, value: Any) -> Any:
        parts = _split_csv(value)
        if isinstance(parts, list):
            bad = [part for part in parts if not CCXT_ID.fullmatch(part)]
            if bad:
                raise ValueError("each venue must be a ccxt exchange id")
        return parts

    @property
    def max_age(self) -> timedelta:
        return timedelta(seconds=self.stale_after_seconds)


class SyncSettings(_Group):
    scheduler: bool = Field(
        True,
        alias="SYNC_SCHEDULER",
        description="Run the scheduler inside `tallyhold serve`. Off: sources sync only on `POST /v1/sync` or "
        "`tallyhold sync --once`.",
    )
    yield_to_requests: bool = Field(
        True,
        alias="SYNC_YIELD_TO_REQUESTS",
        description="In `tallyhold serve`, the database statements of syncs, prices, retention and answer "
        "refreshes wait while requests are in flight (at most 50 ms each), so a request never queues behind "
        "their work on the event loop. Off: they take turns with requests.",
    )
    interval_seconds: int = Field(
        300, ge=30, le=86_400, alias="SYNC_INTERVAL_SECONDS", description="Seconds between two syncs of a source."
    )
    jitter_seconds: float = Field(
        30,
        ge=0,
        le=3600,
        alias="SYNC_JITTER_SECONDS",
        description="Spread of what does not follow an instance's sync cycle (capped at half the interval): after a "
        "restart its overdue sources sync together within it. The cycles themselves are spread over the whole "
        "interval: each instance draws its offset into every interval once.",
    )
    concurrency: int = Field(
        4, ge=1, le=64, alias="SYNC_CONCURRENCY", description="Sources synced at the same time, in total."
    )
    venue_concurrency: int = Field(
        2,
        ge=1,
        le=16,
        alias="SYNC_VENUE_CONCURRENCY",
        description="Sources of one venue (exchange or chain) synced at the same time.",
    )
    timeout_seconds: float = Field(
        60, gt=0, le=600, alias="SYNC_TIMEOUT_SECONDS", description="Deadline of one source's sync."
    )
    backoff_base_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        alias="SYNC_BACKOFF_BASE_SECONDS",
        description="First retry delay after a failed sync; doubles per failure, full jitter.",
    )
    backoff_max_seconds: float = Field(
        3600, gt=0, le=86_400, alias="SYNC_BACKOFF_MAX_SECONDS", description="Longest retry delay."
    )
    stale_after_seconds: int = Field(
        0,
        ge=0,
        le=30 * 86_400,
        alias="SYNC_STALE_AFTER_SECONDS",
        description="A source whose last good sync is older than this is stale (0 = 3 × the sync interval).",
    )
    breaker_failures: int = Field(
        5,
        ge=1,
        le=100,
        alias="BREAKER_FAILURES",
        description="Consecutive failures of one venue that open its circuit breaker.",
    )
    breaker_cooldown_seconds: float = Field(
        300,
        gt=0,
        le=86_400,
        alias="BREAKER_COOLDOWN_SECONDS",
        description="How long a breaker opened by failures stays open before one probe.",
    )

    @property
    def source_max_age(self) -> timedelta:
        """A source whose last good sync is older than this is flagged stale."""
        return timedelta(seconds=self.stale_after_seconds or 3 * self.interval_seconds)

    @property
    def jitter(self) -> float:
        return min(self.jitter_seconds, self.interval_seconds / 2)


class EvmRpcUrls(_Group):
    """One JSON-RPC URL per supported EVM chain; the field names are the chain names of `chains/catalog.py`."""

    ethereum: AnyHttpUrl | None = Field(
        None, alias="EVM_RPC_ETHEREUM", description="JSON-RPC URL for Ethereum mainnet."
    )
    arbitrum: AnyHttpUrl | None = Field(None, alias="EVM_RPC_ARBITRUM", description="JSON-RPC URL for Arbitrum One.")
    optimism: AnyHttpUrl | None = Field(None, alias="EVM_RPC_OPTIMISM", description="JSON-RPC URL for Optimism.")
    base: AnyHttpUrl | None = Field(None, alias="EVM_RPC_BASE", description="JSON-RPC URL for Base.")
    polygon: AnyHttpUrl | None = Field(None, alias="EVM_RPC_POLYGON", description="JSON-RPC URL for Polygon PoS.")
    bsc: AnyHttpUrl | None = Field(None, alias="EVM_RPC_BSC", description="JSON-RPC URL for BNB Smart Chain.")

    def configured(self) -> dict[str, AnyHttpUrl]:
        """Chain name → RPC URL, for the chains that have one."""
        return {chain: url for chain in type(self).model_fields if (url := getattr(self, chain)) is not None}


EVM_CHAINS = tuple(EvmRpcUrls.model_fields)


class ChainSettings(_Group):
    evm_rpc: EvmRpcUrls
    esplora_url: AnyHttpUrl | None = Field(
        None, alias="ESPLORA_URL", description="Esplora-compatible API for Bitcoin addresses."
    )
    evm_batch_size: int = Field(
        100,
        ge=1,
        le=1000,
        alias="EVM_BATCH_SIZE",
        description="Balance reads per HTTP batch request when reading EVM balances (a sync's first batch also "
        "carries 3 control calls: chain id, head, block number).",
    )
    evm_batches_in_flight: int = Field(
        2,
        ge=1,
        le=16,
        alias="EVM_BATCHES_IN_FLIGHT",
        description="Batch requests sent to one EVM RPC at the same time during a sync.",
    )
    evm_block_pin_seconds: float = Field(
        10.0,
        ge=0,
        le=120,
        alias="EVM_BLOCK_PIN_SECONDS",
        description="How long the block a chain's balances are read at stays pinned, so the wallets of one sync "
        "agree (0 = a new block for every read).",
    )
    retries: int = Field(
        3,
        ge=0,
        le=10,
        alias="CHAIN_RETRIES",
        description="Retries (with backoff and jitter) of a failed RPC or Esplora request.",
    )
    timeout_seconds: float = Field(
        10.0, gt=0, le=120, alias="CHAIN_TIMEOUT_SECONDS", description="Timeout of each RPC or Esplora request."
    )
    bitcoin_gap_limit: int = Field(
        20,
        ge=1,
        le=1000,
        alias="BITCOIN_GAP_LIMIT",
        description="Unused addresses in a row after which an xpub scan stops (per chain).",
    )
    esplora_concurrency: int = Field(
        4, ge=1, le=32, alias="ESPLORA_CONCURRENCY", description="Esplora requests in flight during an xpub scan."
    )


class ExchangeSettings(_Group):
    api_overrides: Annotated[dict[str, AnyHttpUrl], NoDecode] = Field(
        default_factory=dict,
        alias="EXCHANGE_API_OVERRIDES",
        description='JSON object `{"<ccxt id>": "<scheme://host:port>"}` replacing the scheme and host of '
        "every API URL of that exchange (sandbox venues, test venues).",
    )
    permission_check_seconds: int = Field(
        0,
        ge=0,
        le=86_400,
        alias="EXCHANGE_PERMISSION_CHECK_SECONDS",
        description="Seconds between two checks of an exchange key's permissions by the exchange (0 = before "
        "every sync; at most daily). Venues without a permission endpoint are probed daily.",
    )
    shared_budget: bool = Field(
        True,
        alias="EXCHANGE_SHARED_BUDGET",
        description="Share each venue's per-IP request budget (Binance, Bybit) with every instance of the same egress "
        "pool, through the `egress_budget` schema the provisioner creates; a call waits when the pool's budget is "
        "spent or the pool is banned, and fails (`egress_budget_unavailable`) when the budget cannot be reached.",
    )

    @field_validator("api_overrides", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        value = _json_object(value)
        if isinstance(value, dict):
            bad = [key for key in value if not isinstance(key, str) or not CCXT_ID.fullmatch(key)]
            if bad:
                raise ValueError("keys must be ccxt exchange ids")
        return value


class EgressSettings(_Group):
    ips: Annotated[list[IPv4Address | IPv6Address], NoDecode] = Field(
        default_factory=list,
        alias="EGRESS_IPS",
        description="Comma-separated egress IPs, shown to customers for exchange IP allowlists.",
    )
    mode: Literal["subprocess", "inprocess"] = Field(
        "subprocess",
        alias="EGRESS_MODE",
        description="`subprocess`: exchange and chain calls run in a short-lived worker process (keeps ccxt and "
        "web3 out of the idle instance); `inprocess`: in the instance itself.",
    )
    idle_seconds: float = Field(
        20.0, ge=1, le=3600, alias="EGRESS_IDLE_SECONDS", description="Idle time after which the worker exits."
    )
    worker_slots_dir: DirectoryPath | None = Field(
        None,
        alias="EGRESS_WORKER_SLOTS_DIR",
        description="Folder of the host's egress worker slots (`slot-000`, ...), shared by every instance on the "
        "host: a worker starts only while its instance holds one, so their number bounds the workers alive at once "
        "(set by the provisioner's local and podman backends). Unset: no bound.",
    )
    forkserver_socket: Path | None = Field(
        None,
        alias="EGRESS_FORKSERVER_SOCKET",
        description="Unix socket of the host's egress worker fork server (`python -m tallyhold.egress.forkserver`, "
        "started by the provisioner's local backend): workers are forked from it with their libraries already "
        "loaded, as this instance's OS user, instead of started and importing them (about two thirds of a "
        "worker's CPU per sync cycle). Unset, or when it gives no worker: the instance starts its worker itself.",
    )
    worker_slot_wait_seconds: float = Field(
        20.0,
        ge=1,
        le=3600,
        alias="EGRESS_WORKER_SLOT_WAIT_SECONDS",
        description="How long a worker start waits for a free slot before the call fails as transient "
        "(`egress_worker_unavailable`; a sync retries at its backoff). As long as a key check waits for its turn "
        "in the exchange's budget: a check then answers within a proxy's usual 60 s.",
    )
    options: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict,
        alias="EGRESS_OPTIONS",
        description='JSON object of tuning handed to the egress worker\'s operations, e.g. `{"exchanges": '
        '{"timeout": 5, "attempts": 2}}` (tests and benches against the sandbox venues). No secrets.',
    )

    @field_validator("ips", mode="before")
    @classmethod
    def _ips(cls, value: Any) -> Any:
        parts = _split_csv(value)
        return [ip_address(part) for part in parts] if isinstance(parts, list) else parts

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, value: Any) -> Any:
        value = _json_object(value)
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ValueError("must be a JSON object of objects, one per egress domain")
        return value


class HttpSettings(_Group):
    host: str = Field("127.0.0.1", alias="HTTP_HOST", description="Address `tallyhold serve` listens on.")
    port: int = Field(8080, ge=1, le=65_535, alias="HTTP_PORT", description="Port `tallyhold serve` listens on.")
    metrics_port: int = Field(
        9464,
        ge=0,
        le=65_535,
        alias="METRICS_PORT",
        description="Port of the Prometheus `/metrics` endpoint (0 = off).",
    )
    metrics_host: str = Field("127.0.0.1", alias="METRICS_HOST", description="Address the metrics endpoint listens on.")
    max_body_bytes: int = Field(
        65_536, ge=1_024, le=10_485_760, alias="MAX_BODY_BYTES", description="Largest request body accepted."
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        alias="HTTP_HEADER_TIMEOUT_SECONDS",
        description="Time a client has to send a request's line and headers, counted from its connection or from "
        "the end of the previous answer; then the connection is closed (slow-client protection).",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        alias="HTTP_BODY_TIMEOUT_SECONDS",
        description="Time a client has to send a request's body once its headers are in; then 408 `request_timeout`.",
    )
    keepalive_seconds: int = Field(
        5,
        ge=1,
        le=300,
        alias="HTTP_KEEPALIVE_SECONDS",
        description="An idle keep-alive connection is closed after this long.",
    )
    max_connections: int = Field(
        1000,
        ge=10,
        le=100_000,
        alias="HTTP_MAX_CONNECTIONS",
        description="Open connections at once; one more is answered 503 `server_busy` and closed.",
    )
    tls_cert_file: str | None = Field(
        None,
        alias="TLS_CERT_FILE",
        description="PEM certificate (chain) to serve HTTPS with; needs `TLS_KEY_FILE`. Read at start.",
    )
    tls_key_file: str | None = Field(None, alias="TLS_KEY_FILE", description="PEM private key of `TLS_CERT_FILE`.")
    tls_upstream: bool = Field(
        False,
        alias="TLS_UPSTREAM",
        description="The operator declares a TLS front (ingress, reverse proxy, or a port published on loopback "
        "only): `tallyhold serve` then serves plain HTTP on a non-loopback `HTTP_HOST`, which it refuses "
        "otherwise.",
    )
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        alias="TRUSTED_PROXIES",
        description="Comma-separated addresses or CIDR networks of the TLS front (ingress, reverse proxy) whose "
        "`X-Forwarded-For` and `X-Forwarded-Proto` are believed: the authentication throttle then counts the "
        "client the front names, and HSTS follows the front's scheme. Empty: no forwarded header is believed.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        parts = _split_csv(value)
        return [ip_network(part, strict=False) for part in parts] if isinstance(parts, list) else parts

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither")
        return self


class AuthSettings(_Group):
    token_expiry_days: int = Field(
        90,
        ge=1,
        le=3650,
        alias="TOKEN_EXPIRY_DAYS",
        description="Lifetime of a token from `tallyhold token create` without `--expires-in`.",
    )
    web_session_seconds: int = Field(
        43_200,
        ge=300,
        le=2_592_000,
        alias="WEB_SESSION_SECONDS",
        description="Lifetime of a web-page session after sign-in (it also ends at sign-out, or when its access "
        "token is revoked or expires).",
    )
    throttle_failures: int = Field(
        10,
        ge=1,
        le=1_000_000,
        alias="AUTH_THROTTLE_FAILURES",
        description="Failed token checks one client address (IPv6: its /64) may make in a burst; beyond, they "
        "are answered 429 `too_many_auth_failures` with `Retry-After`. Valid tokens are never throttled.",
    )
    throttle_window_seconds: float = Field(
        60.0,
        gt=0,
        le=86_400,
        alias="AUTH_THROTTLE_WINDOW_SECONDS",
        description="A full burst of failures is forgiven over this time (one every window / failures seconds).",
    )
    throttle_max_clients: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        alias="AUTH_THROTTLE_MAX_CLIENTS",
        description="Client addresses the throttle remembers (about 100 bytes each); when full, the one whose "
        "last failure is oldest is forgotten.",
    )


class LimitSettings(_Group):
    max_manual_connections: int = Field(
        500,
        ge=1,
        le=100_000,
        alias="MAX_MANUAL_CONNECTIONS",
        description="Manual connections a customer may hold; one more is refused with 409 `limit_reached`.",
    )
    max_custom_tokens: int = Field(
        100,
        ge=0,
        le=10_000,
        alias="MAX_CUSTOM_TOKENS",
        description="Custom tokens a customer may add, all chains together (each is read on every wallet of its "
        "chain at every sync); one more is refused with 409 `limit_reached`.",
    )


class Settings(BaseSettings):
    """Everything an instance reads from its environment: who it is, then one group per concern."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True)

    env: Environment = Field(
        Environment.production,
        alias="ENV",
        description="`production`, `test` or `development`. Only `development` accepts placeholder secrets.",
    )
    secrets_dir: DirectoryPath | None = Field(
        None,
        alias="SECRETS_DIR",
        description="Folder of files named after settings' full variable names (e.g. `TALLYHOLD_DATABASE_URL`, "
        "`TALLYHOLD_VAULT_SECRET_ID`), each holding that setting's value: how containers get their secrets "
        "(podman secrets, a Kubernetes Secret volume) instead of environment variables. A variable of the same "
        "name wins over a file.",
    )
    customer_id: str = Field(alias="CUSTOMER_ID", description="The customer's opaque id (`t_` + hex). Required.")
    log_level: str = Field("INFO", alias="LOG_LEVEL", description="Log level of the JSON log on stderr.")
    database: DatabaseSettings
    vault: VaultSettings
    http: HttpSettings
    auth: AuthSettings
    limits: LimitSettings
    portfolio: PortfolioSettings
    prices: PriceSettings
    sync: SyncSettings
    chains: ChainSettings
    exchanges: ExchangeSettings
    egress: EgressSettings

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values come from the arguments, then the environment, then the files of SECRETS_DIR, each by its flat
        name (`_regroup` then puts them in their groups). The files feed the same fields as the variables, so a
        value read from a file is a SecretStr like any other and meets the same placeholder checks. A SECRETS_DIR
        that is not a directory is left to the field's own validation, which refuses it (fail closed: a mistyped
        folder must not mean "no secrets given")."""
        flat = _flat_names()
        directory = _secrets_dir(init_settings)
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, EnvSettingsSource(flat))
        if directory is not None and os.path.isdir(directory):
            sources += (SecretsSettingsSource(flat, secrets_dir=directory),)
        return sources

    @model_validator(mode="before")
    @classmethod
    def _regroup(cls, data: Any) -> Any:
        """Flat names (`VAULT_ADDR=…`, from the environment or from keyword arguments) into their groups."""
        if not isinstance(data, dict):
            return data
        grouped = dict(data)
        for leaf in leaves():
            if len(leaf.path) == 1:
                continue
            group = grouped
            for step in leaf.path[:-1]:
                group[step] = group = dict(group.get(step) or {})
            if leaf.name in grouped:
                group[leaf.name] = grouped.pop(leaf.name)
        return grouped

    @field_validator("customer_id")
    @classmethod
    def _customer_id(cls, value: str) -> str:
        if not CUSTOMER_ID.fullmatch(value):
            raise ValueError("must be an opaque id: 't_' followed by lowercase hex")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.env is Environment.development:
            return self
        # The migration URL is the schema owner's connection: a placeholder there is worse than in DATABASE_URL.
        urls = {
            "DATABASE_URL": self.database.engine_url,
            "MIGRATION_DATABASE_URL": self.database.migration_engine_url,
        }
        for name, url in urls.items():
            if url.password is None or url.password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} must carry a real password outside development")
        vault = self.vault
        secrets = {
            "VAULT_TOKEN": vault.token,
            "VAULT_SECRET_ID": vault.secret_id,
            "VAULT_WRAPPED_SECRET_ID": vault.wrapped_secret_id,
        }
        for name, secret in secrets.items():
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder; refusing to start outside development")
        return self


@dataclass(frozen=True)
class Leaf:
    """One setting: its flat name (the variable without `TALLYHOLD_`), where it sits in `Settings`, its field."""

    name: str
    path: tuple[str, ...]
    field: FieldInfo

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name

    def value(self, settings: Settings) -> Any:
        found: Any = settings
        for step in self.path:
            found = getattr(found, step)
        return found

    def is_set(self, settings: Settings) -> bool:
        """Whether the value was given (by the environment, a file or an argument) rather than defaulted."""
        owner: Any = settings
        for step in self.path[:-1]:
            owner = getattr(owner, step)
        return self.path[-1] in owner.model_fields_set


def leaves(model: type[BaseModel] = Settings, path: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Every setting, in the order of the classes above (the README table's order)."""
    for attribute, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Group):
            yield from leaves(annotation, (*path, attribute))
        else:
            yield Leaf(name=field.alias or attribute, path=(*path, attribute), field=field)


class _FlatNames(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


@cache
def _flat_names() -> type[BaseSettings]:
    """A settings class with one raw field per flat name: the environment and SECRETS_DIR sources of
    pydantic-settings read it with their usual rules (prefix, case, files), and the values reach `Settings`
    unparsed, where each group's own validators parse them."""
    raw: Any = (Annotated[str | None, NoDecode], None)
    return create_model(
        "FlatSettings",
        __base__=_FlatNames,
        **{leaf.name: raw for leaf in leaves()},
    )


def _secrets_dir(init_settings: PydanticBaseSettingsSource) -> str | None:
    given = init_settings().get("SECRETS_DIR")
    if given is not None:
        return str(given)
    return os.environ.get(ENV_PREFIX + "SECRETS_DIR") or None


def _async_url(raw: str) -> URL:
    url = make_url(raw)
    if url.drivername in {"postgres", "postgresql", "postgresql+psycopg"}:
        return url.set(drivername="postgresql+psycopg")
    raise ValueError("the database URL must be a postgresql:// URL")


def secret_bearing_settings() -> frozenset[str]:
    """The variables whose value may hold a credential, so that a deployment hands them over as files of
    SECRETS_DIR and never as plain configuration: the secrets (SecretStr) and every URL setting, because an RPC or
    Esplora provider's URL usually carries its API key in the path, query or user info."""
    return frozenset(leaf.variable for leaf in leaves() if _may_hold_credential(leaf.field.annotation))


def _may_hold_credential(annotation: Any) -> bool:
    union = get_origin(annotation) in {Union, types.UnionType}
    members = get_args(annotation) if union else (annotation,)
    return any(member in {SecretStr, AnyHttpUrl} for member in members)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides, by flat name, win (used by tests and the CLI)."""
    return Settings(**overrides)
