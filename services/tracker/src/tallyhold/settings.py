"""Instance settings, read from `TALLYHOLD_*` environment variables.

The settings fail closed: values an instance cannot run safely without have no default, and placeholder
secrets are refused unless the instance explicitly runs in development. The README's configuration table is
generated from the field descriptions below (`tallyhold config-table`) and a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import re
import types
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import AnyHttpUrl, DirectoryPath, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import URL, make_url

from tallyhold.auth.throttle import FailureThrottle
from tallyhold.egress.protocol import EgressConfig

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
CUSTOMER_ID = re.compile(r"^t_[0-9a-f]{4,60}$")
CCXT_ID = re.compile(r"^[a-z0-9]{2,32}$")
QUOTE_CURRENCIES = ("USD", "EUR", "GBP", "CHF")
EVM_CHAINS = ("ethereum", "arbitrum", "optimism", "base", "polygon", "bsc")

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


class Settings(BaseSettings):
    """Everything an instance reads from its environment."""

    # hide_input_in_errors: a validation error must never print the environment it read (passwords, tokens).
    model_config = SettingsConfigDict(env_prefix="TALLYHOLD_", extra="ignore", frozen=True, hide_input_in_errors=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Values come from the arguments, then the environment, then the files of SECRETS_DIR. Those files feed
        the same fields as the variables, so a value read from a file is a SecretStr like any other and meets the
        same placeholder checks. A SECRETS_DIR that is not a directory is left to the field's own validation,
        which refuses it (fail closed: a mistyped folder must not mean "no secrets given")."""
        directory = _secrets_dir(init_settings)
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if directory is not None and os.path.isdir(directory):
            sources += (SecretsSettingsSource(settings_cls, secrets_dir=directory),)
        return sources

    # Identity and storage -------------------------------------------------------------------------
    ENV: Environment = Field(
        Environment.production,
        description="`production`, `test` or `development`. Only `development` accepts placeholder secrets.",
    )
    SECRETS_DIR: DirectoryPath | None = Field(
        None,
        description="Folder of files named after settings' full variable names (e.g. `TALLYHOLD_DATABASE_URL`, "
        "`TALLYHOLD_VAULT_SECRET_ID`), each holding that setting's value: how containers get their secrets "
        "(podman secrets, a Kubernetes Secret volume) instead of environment variables. A variable of the same "
        "name wins over a file.",
    )
    DATABASE_URL: SecretStr = Field(
        description="Postgres URL of the instance's app role "
        "(`postgresql://<user>:<password>@<host>:<port>/<db>`). Required.",
    )
    DB_SCHEMA: str = Field(description="The customer's schema; every table lives there. Required.")
    CUSTOMER_ID: str = Field(description="The customer's opaque id (`t_` + hex). Required.")
    MIGRATION_DATABASE_URL: SecretStr | None = Field(
        None,
        description="URL used by `tallyhold migrate` when it differs from `DATABASE_URL` (the schema owner's "
        "connection). Defaults to `DATABASE_URL`.",
    )
    MIGRATION_ROLE: str | None = Field(
        None,
        description="Role that `tallyhold migrate` switches to (`SET ROLE`) so objects belong to the schema "
        "owner, not to the login role.",
    )

    # Vault / OpenBao ------------------------------------------------------------------------------
    VAULT_ADDR: AnyHttpUrl | None = Field(None, description="Vault or OpenBao address, e.g. `https://vault:8200`.")
    VAULT_AUTH: VaultAuth = Field(VaultAuth.token, description="`token`, `approle` or `kubernetes`.")
    VAULT_TOKEN: SecretStr | None = Field(None, description="Vault token when `VAULT_AUTH=token`.")
    VAULT_ROLE_ID: str | None = Field(None, description="AppRole role id when `VAULT_AUTH=approle`.")
    VAULT_SECRET_ID: SecretStr | None = Field(
        None, description="AppRole secret id when `VAULT_AUTH=approle` (or deliver it wrapped, below)."
    )
    VAULT_WRAPPED_SECRET_ID: SecretStr | None = Field(
        None,
        description="Response-wrapping token of the AppRole secret id (what the provisioner gives): unwrapped at "
        "the first login and kept in `VAULT_SECRET_ID_FILE`.",
    )
    VAULT_SECRET_ID_FILE: str | None = Field(
        None, description="Where the instance keeps the secret id it unwrapped (mode 0600); needed with the above."
    )
    VAULT_K8S_ROLE: str | None = Field(None, description="Kubernetes auth role when `VAULT_AUTH=kubernetes`.")
    VAULT_K8S_JWT_PATH: str = Field(
        "/var/run/secrets/tallyhold/vault/token",
        description="Projected service-account token file, re-read at every Kubernetes login.",
    )
    VAULT_K8S_MOUNT: str = Field("kubernetes", description="Mount path of the Kubernetes auth method.")
    VAULT_APPROLE_MOUNT: str = Field("approle", description="Mount path of the AppRole auth method.")
    VAULT_TRANSIT_MOUNT: str = Field("transit", description="Mount path of the transit engine.")
    VAULT_KEY: str | None = Field(
        None, description="Name of the customer's transit key (`t_<hex>`; on Kubernetes its namespace, `t-<hex>`)."
    )
    VAULT_CACERT: str | None = Field(None, description="CA bundle for Vault's TLS certificate.")
    VAULT_TIMEOUT_SECONDS: float = Field(5.0, gt=0, le=60, description="Timeout of each Vault request.")

    # Portfolio ------------------------------------------------------------------------------------
    QUOTE_CURRENCY: str = Field("USD", description="Currency net worth is expressed in: USD, EUR, GBP or CHF.")
    SYNC_INTERVAL_SECONDS: int = Field(300, ge=30, le=86_400, description="Seconds between two syncs of a source.")
    PRICE_STALE_AFTER_SECONDS: int = Field(
        3600, ge=60, le=604_800, description="A price older than this is flagged stale in balances and net worth."
    )
    # Sync engine and history (sync/, portfolio/history.py) --------------------------------------------
    SYNC_SCHEDULER: bool = Field(
        True,
        description="Run the scheduler inside `tallyhold serve`. Off: sources sync only on `POST /v1/sync` or "
        "`tallyhold sync --once`.",
    )
    SYNC_JITTER_SECONDS: float = Field(
        30, ge=0, le=3600, description="Random delay added to each scheduled sync (capped at half the interval)."
    )
    SYNC_CONCURRENCY: int = Field(4, ge=1, le=64, description="Sources synced at the same time, in total.")
    SYNC_VENUE_CONCURRENCY: int = Field(
        2, ge=1, le=16, description="Sources of one venue (exchange or chain) synced at the same time."
    )
    SYNC_TIMEOUT_SECONDS: float = Field(60, gt=0, le=600, description="Deadline of one source's sync.")
    SYNC_BACKOFF_BASE_SECONDS: float = Field(
        30, gt=0, le=3600, description="First retry delay after a failed sync; doubles per failure, full jitter."
    )
    SYNC_BACKOFF_MAX_SECONDS: float = Field(3600, gt=0, le=86_400, description="Longest retry delay.")
    SYNC_STALE_AFTER_SECONDS: int = Field(
        0,
        ge=0,
        le=30 * 86_400,
        description="A source whose last good sync is older than this is stale (0 = 3 × the sync interval).",
    )
    BREAKER_FAILURES: int = Field(
        5, ge=1, le=100, description="Consecutive failures of one venue that open its circuit breaker."
    )
    BREAKER_COOLDOWN_SECONDS: float = Field(
        300, gt=0, le=86_400, description="How long a breaker opened by failures stays open before one probe."
    )
    PORTFOLIO_CACHE_SECONDS: float = Field(
        2.0,
        ge=0,
        le=60,
        description="Longest reuse of a computed `/v1/networth` or `/v1/balances` answer (0 = off). The instance's "
        "API writes are seen at once, its syncs' within about 0.25 s (refreshed off the request path), writes of "
        "other processes (`tallyhold sync --once`) within this time.",
    )
    HISTORY_RAW_DAYS: int = Field(7, ge=1, le=3650, description="Days net-worth snapshots are kept at full resolution.")
    HISTORY_HOURLY_DAYS: int = Field(
        90, ge=1, le=3650, description="Days of hourly net-worth history; older history is kept daily."
    )
    HISTORY_DAILY_DAYS: int = Field(0, ge=0, le=36_500, description="Days of daily history kept (0 = forever).")
    EGRESS_IPS: Annotated[list[IPv4Address | IPv6Address], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated egress IPs, shown to customers for exchange IP allowlists.",
    )
    EVM_RPC_ETHEREUM: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for Ethereum mainnet.")
    EVM_RPC_ARBITRUM: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for Arbitrum One.")
    EVM_RPC_OPTIMISM: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for Optimism.")
    EVM_RPC_BASE: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for Base.")
    EVM_RPC_POLYGON: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for Polygon PoS.")
    EVM_RPC_BSC: AnyHttpUrl | None = Field(None, description="JSON-RPC URL for BNB Smart Chain.")
    ESPLORA_URL: AnyHttpUrl | None = Field(None, description="Esplora-compatible API for Bitcoin addresses.")
    EVM_BATCH_SIZE: int = Field(
        100,
        ge=1,
        le=1000,
        description="Balance reads per HTTP batch request when reading EVM balances (a sync's first batch also "
        "carries 3 control calls: chain id, head, block number).",
    )
    EVM_BATCHES_IN_FLIGHT: int = Field(
        2, ge=1, le=16, description="Batch requests sent to one EVM RPC at the same time during a sync."
    )
    EVM_BLOCK_PIN_SECONDS: float = Field(
        10.0,
        ge=0,
        le=120,
        description="How long the block a chain's balances are read at stays pinned, so the wallets of one sync "
        "agree (0 = a new block for every read).",
    )
    CHAIN_RETRIES: int = Field(
        3, ge=0, le=10, description="Retries (with backoff and jitter) of a failed RPC or Esplora request."
    )
    CHAIN_TIMEOUT_SECONDS: float = Field(10.0, gt=0, le=120, description="Timeout of each RPC or Esplora request.")
    BITCOIN_GAP_LIMIT: int = Field(
        20, ge=1, le=1000, description="Unused addresses in a row after which an xpub scan stops (per chain)."
    )
    ESPLORA_CONCURRENCY: int = Field(4, ge=1, le=32, description="Esplora requests in flight during an xpub scan.")
    PRICE_VENUES: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["binance", "kraken", "coinbase"],
        description="ccxt ids of the exchanges whose public tickers price assets, in order of preference.",
    )
    EXCHANGE_API_OVERRIDES: Annotated[dict[str, AnyHttpUrl], NoDecode] = Field(
        default_factory=dict,
        description='JSON object `{"<ccxt id>": "<scheme://host:port>"}` replacing the scheme and host of '
        "every API URL of that exchange (sandbox venues, test venues).",
    )

    EXCHANGE_PERMISSION_CHECK_SECONDS: int = Field(
        0,
        ge=0,
        le=86_400,
        description="Seconds between two checks of an exchange key's permissions by the exchange (0 = before "
        "every sync; at most daily). Venues without a permission endpoint are probed daily.",
    )
    EGRESS_MODE: Literal["subprocess", "inprocess"] = Field(
        "subprocess",
        description="`subprocess`: exchange and chain calls run in a short-lived worker process (keeps ccxt and "
        "web3 out of the idle instance); `inprocess`: in the instance itself.",
    )
    EGRESS_IDLE_SECONDS: float = Field(20.0, ge=1, le=3600, description="Idle time after which the worker exits.")
    EGRESS_OPTIONS: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict,
        description='JSON object of tuning handed to the egress worker\'s operations, e.g. `{"exchanges": '
        '{"timeout": 5, "attempts": 2}}` (tests and benches against the sandbox venues). No secrets.',
    )

    # Serving --------------------------------------------------------------------------------------
    HTTP_HOST: str = Field("127.0.0.1", description="Address `tallyhold serve` listens on.")
    HTTP_PORT: int = Field(8080, ge=1, le=65_535, description="Port `tallyhold serve` listens on.")
    METRICS_PORT: int = Field(
        9464, ge=0, le=65_535, description="Port of the Prometheus `/metrics` endpoint (0 = off)."
    )
    METRICS_HOST: str = Field("127.0.0.1", description="Address the metrics endpoint listens on.")
    WEB_SESSION_SECONDS: int = Field(
        43_200,
        ge=300,
        le=2_592_000,
        description="Lifetime of a web-page session after sign-in (it also ends at sign-out, or when its access "
        "token is revoked or expires).",
    )
    MAX_BODY_BYTES: int = Field(65_536, ge=1_024, le=10_485_760, description="Largest request body accepted.")
    MAX_MANUAL_CONNECTIONS: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Manual connections a customer may hold; one more is refused with 409 `limit_reached`.",
    )
    MAX_CUSTOM_TOKENS: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Custom tokens a customer may add, all chains together (each is read on every wallet of its "
        "chain at every sync); one more is refused with 409 `limit_reached`.",
    )
    HTTP_HEADER_TIMEOUT_SECONDS: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Time a client has to send a request's line and headers, counted from its connection or from "
        "the end of the previous answer; then the connection is closed (slow-client protection).",
    )
    HTTP_BODY_TIMEOUT_SECONDS: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Time a client has to send a request's body once its headers are in; then 408 `request_timeout`.",
    )
    HTTP_KEEPALIVE_SECONDS: int = Field(
        5, ge=1, le=300, description="An idle keep-alive connection is closed after this long."
    )
    HTTP_MAX_CONNECTIONS: int = Field(
        1000,
        ge=10,
        le=100_000,
        description="Open connections at once; one more is answered 503 `server_busy` and closed.",
    )
    TLS_CERT_FILE: str | None = Field(
        None, description="PEM certificate (chain) to serve HTTPS with; needs `TLS_KEY_FILE`. Read at start."
    )
    TLS_KEY_FILE: str | None = Field(None, description="PEM private key of `TLS_CERT_FILE`.")
    TLS_UPSTREAM: bool = Field(
        False,
        description="The operator declares a TLS front (ingress, reverse proxy, or a port published on loopback "
        "only): `tallyhold serve` then serves plain HTTP on a non-loopback `HTTP_HOST`, which it refuses "
        "otherwise.",
    )
    TRUSTED_PROXIES: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDR networks of the TLS front (ingress, reverse proxy) whose "
        "`X-Forwarded-For` and `X-Forwarded-Proto` are believed: the authentication throttle then counts the "
        "client the front names, and HSTS follows the front's scheme. Empty: no forwarded header is believed.",
    )
    TOKEN_EXPIRY_DAYS: int = Field(
        90, ge=1, le=3650, description="Lifetime of a token from `tallyhold token create` without `--expires-in`."
    )
    AUTH_THROTTLE_FAILURES: int = Field(
        10,
        ge=1,
        le=1_000_000,
        description="Failed token checks one client address (IPv6: its /64) may make in a burst; beyond, they "
        "are answered 429 `too_many_auth_failures` with `Retry-After`. Valid tokens are never throttled.",
    )
    AUTH_THROTTLE_WINDOW_SECONDS: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="A full burst of failures is forgiven over this time (one every window / failures seconds).",
    )
    AUTH_THROTTLE_MAX_CLIENTS: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Client addresses the throttle remembers (about 100 bytes each); when full, the one whose "
        "last failure is oldest is forgotten.",
    )
    LOG_LEVEL: str = Field("INFO", description="Log level of the JSON log on stderr.")
    DB_POOL_SIZE: int = Field(5, ge=1, le=50, description="Database connections kept open by the instance.")
    SYNC_DB_POOL_SIZE: int = Field(
        2,
        ge=1,
        le=20,
        description="Database connections of the scheduler and syncs in `tallyhold serve`: a pool apart from the "
        "API's, so syncing never makes requests wait for a connection.",
    )

    @field_validator("DB_SCHEMA")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if not SCHEMA_NAME.fullmatch(value) or value in {"public", "pg_catalog", "information_schema"}:
            raise ValueError("must be a lowercase identifier naming the customer's own schema")
        return value

    @field_validator("CUSTOMER_ID")
    @classmethod
    def _customer_id(cls, value: str) -> str:
        if not CUSTOMER_ID.fullmatch(value):
            raise ValueError("must be an opaque id: 't_' followed by lowercase hex")
        return value

    @field_validator("MIGRATION_ROLE")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not SCHEMA_NAME.fullmatch(value):
            raise ValueError("must be a lowercase identifier")
        return value

    @field_validator("VAULT_KEY")
    @classmethod
    def _key_name(cls, value: str | None) -> str | None:
        # t_<hex> for AppRole tenants, t-<hex> (the namespace's name) for Kubernetes ones.
        if value is not None and not VAULT_KEY_NAME.fullmatch(value):
            raise ValueError("must be a lowercase name of letters, digits, '_' and '-'")
        return value

    @field_validator("QUOTE_CURRENCY")
    @classmethod
    def _quote(cls, value: str) -> str:
        value = value.upper()
        if value not in QUOTE_CURRENCIES:
            raise ValueError(f"must be one of {', '.join(QUOTE_CURRENCIES)}")
        return value

    @field_validator("LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("EGRESS_IPS", mode="before")
    @classmethod
    def _egress_ips(cls, value: Any) -> Any:
        parts = _split_csv(value)
        return [ip_address(part) for part in parts] if isinstance(parts, list) else parts

    @field_validator("TRUSTED_PROXIES", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: Any) -> Any:
        parts = _split_csv(value)
        return [ip_network(part, strict=False) for part in parts] if isinstance(parts, list) else parts

    @field_validator("PRICE_VENUES", mode="before")
    @classmethod
    def _price_venues(cls, value: Any) -> Any:
        parts = _split_csv(value)
        if isinstance(parts, list):
            bad = [part for part in parts if not CCXT_ID.fullmatch(part)]
            if bad:
                raise ValueError("each venue must be a ccxt exchange id")
        return parts

    @field_validator("EGRESS_OPTIONS", mode="before")
    @classmethod
    def _egress_options(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ValueError("must be a JSON object of objects, one per egress domain")
        return value

    @field_validator("EXCHANGE_API_OVERRIDES", mode="before")
    @classmethod
    def _overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            bad = [key for key in value if not isinstance(key, str) or not CCXT_ID.fullmatch(key)]
            if bad:
                raise ValueError("keys must be ccxt exchange ids")
        return value

    @model_validator(mode="after")
    def _history_tiers(self) -> Self:
        if self.HISTORY_HOURLY_DAYS <= self.HISTORY_RAW_DAYS:
            raise ValueError("HISTORY_HOURLY_DAYS must be longer than HISTORY_RAW_DAYS")
        if self.HISTORY_DAILY_DAYS and self.HISTORY_DAILY_DAYS <= self.HISTORY_HOURLY_DAYS:
            raise ValueError("HISTORY_DAILY_DAYS must be 0 (forever) or longer than HISTORY_HOURLY_DAYS")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.TLS_CERT_FILE is None) != (self.TLS_KEY_FILE is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither")
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.ENV is Environment.development:
            return self
        # The migration URL is the schema owner's connection: a placeholder there is worse than in DATABASE_URL.
        urls = {"DATABASE_URL": self.database_url, "MIGRATION_DATABASE_URL": self.migration_database_url}
        for name, url in urls.items():
            if url.password is None or url.password.lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} must carry a real password outside development")
        for name in ("VAULT_TOKEN", "VAULT_SECRET_ID", "VAULT_WRAPPED_SECRET_ID"):
            secret: SecretStr | None = getattr(self, name)
            if secret is not None and secret.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name} is a placeholder; refusing to start outside development")
        return self

    @model_validator(mode="after")
    def _vault_complete(self) -> Self:
        """With a Vault address, everything the chosen login needs must be there: the instance refuses to start
        rather than discover at the first credential that it cannot log in."""
        if self.VAULT_ADDR is None:
            return self
        needed = {
            VaultAuth.token: ("VAULT_TOKEN",),
            VaultAuth.approle: ("VAULT_ROLE_ID", "VAULT_SECRET_ID"),
            VaultAuth.kubernetes: ("VAULT_K8S_ROLE",),
        }[self.VAULT_AUTH]
        wrapped = self.VAULT_WRAPPED_SECRET_ID is not None or self.VAULT_SECRET_ID_FILE is not None
        if self.VAULT_AUTH is VaultAuth.approle and self.VAULT_SECRET_ID is None and wrapped:
            # Delivered wrapped instead: the wrapping token, and where to keep what it unwraps to.
            needed = ("VAULT_ROLE_ID", "VAULT_WRAPPED_SECRET_ID", "VAULT_SECRET_ID_FILE")
        missing = [name for name in ("VAULT_KEY", *needed) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"VAULT_AUTH={self.VAULT_AUTH.value} needs {', '.join(missing)}")
        return self

    @cached_property
    def database_url(self) -> URL:
        return _async_url(self.DATABASE_URL.get_secret_value())

    @cached_property
    def migration_database_url(self) -> URL:
        raw = self.MIGRATION_DATABASE_URL or self.DATABASE_URL
        return _async_url(raw.get_secret_value())

    @property
    def price_max_age(self) -> timedelta:
        return timedelta(seconds=self.PRICE_STALE_AFTER_SECONDS)

    @property
    def source_max_age(self) -> timedelta:
        """A source whose last good sync is older than this is flagged stale."""
        return timedelta(seconds=self.SYNC_STALE_AFTER_SECONDS or 3 * self.SYNC_INTERVAL_SECONDS)

    @property
    def sync_jitter(self) -> float:
        return min(self.SYNC_JITTER_SECONDS, self.SYNC_INTERVAL_SECONDS / 2)

    def auth_throttle(self) -> FailureThrottle:
        return FailureThrottle(
            limit=self.AUTH_THROTTLE_FAILURES,
            window_seconds=self.AUTH_THROTTLE_WINDOW_SECONDS,
            max_clients=self.AUTH_THROTTLE_MAX_CLIENTS,
        )

    def egress_config(self) -> EgressConfig:
        """The non-secret part of the settings that the egress worker needs."""
        rpc = {chain: str(url) for chain in EVM_CHAINS if (url := self.evm_rpc(chain)) is not None}
        return EgressConfig(
            customer_id=self.CUSTOMER_ID,
            log_level=self.LOG_LEVEL,
            exchange_api_overrides={k: str(v).rstrip("/") for k, v in self.EXCHANGE_API_OVERRIDES.items()},
            evm_rpc=rpc,
            esplora_url=str(self.ESPLORA_URL).rstrip("/") if self.ESPLORA_URL else None,
            price_venues=list(self.PRICE_VENUES),
            options=self.egress_options(),
        )

    def egress_options(self) -> dict[str, Any]:
        """Per-domain tuning of the egress worker: the chain settings, then EGRESS_OPTIONS on top."""
        options: dict[str, dict[str, Any]] = {"chains": self.chain_options()}
        for domain, tuning in self.EGRESS_OPTIONS.items():
            options[domain] = {**options.get(domain, {}), **tuning}
        return dict(options)

    def chain_options(self) -> dict[str, Any]:
        """Tuning of chain reads for the egress worker (see tallyhold.chains.options)."""
        return {
            "evm_batch_size": self.EVM_BATCH_SIZE,
            "evm_batches_in_flight": self.EVM_BATCHES_IN_FLIGHT,
            "evm_block_pin_seconds": self.EVM_BLOCK_PIN_SECONDS,
            "retries": self.CHAIN_RETRIES,
            "timeout_seconds": self.CHAIN_TIMEOUT_SECONDS,
            "esplora_concurrency": self.ESPLORA_CONCURRENCY,
        }

    def evm_rpc(self, chain: str) -> AnyHttpUrl | None:
        value: AnyHttpUrl | None = getattr(self, f"EVM_RPC_{chain.upper()}")
        return value

    def __repr_args__(self) -> Any:
        # SecretStr already masks; this keeps the derived URL (with its password) out of any repr too.
        return [(k, v) for k, v in super().__repr_args__() if k not in {"database_url", "migration_database_url"}]


def _secrets_dir(init_settings: PydanticBaseSettingsSource) -> str | None:
    given = init_settings().get("SECRETS_DIR")
    if given is not None:
        return str(given)
    return os.environ.get("TALLYHOLD_SECRETS_DIR") or None


def _async_url(raw: str) -> URL:
    url = make_url(raw)
    if url.drivername in {"postgres", "postgresql", "postgresql+psycopg"}:
        return url.set(drivername="postgresql+psycopg")
    raise ValueError("the database URL must be a postgresql:// URL")


def secret_bearing_settings() -> frozenset[str]:
    """The variables whose value may hold a credential, so that a deployment hands them over as files of
    SECRETS_DIR and never as plain configuration: the secrets (SecretStr) and every URL setting, because an RPC or
    Esplora provider's URL usually carries its API key in the path, query or user info."""
    return frozenset(
        "TALLYHOLD_" + name for name, field in Settings.model_fields.items() if _may_hold_credential(field.annotation)
    )


def _may_hold_credential(annotation: Any) -> bool:
    union = get_origin(annotation) in {Union, types.UnionType}
    members = get_args(annotation) if union else (annotation,)
    return any(member in {SecretStr, AnyHttpUrl} for member in members)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides win (used by tests and the CLI)."""
    return Settings(**overrides)
