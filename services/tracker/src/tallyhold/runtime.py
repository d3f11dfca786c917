"""The process's runtime: everything built once from the settings and shared by requests and jobs.

`open_runtime(settings)` builds it and tears it down: `tallyhold serve` in the app's lifespan, `tallyhold sync
--once` (and the benches) without HTTP. Routes never see this class: each domain declares the part it reads as
a typed dependency (`SessionDep`, `SyncControlDep`, `AnswerCacheDep`, ...) over a small Protocol of its own, and
`Served` below makes mypy prove that `Runtime` provides every one of them. The domains cannot import this module
(it imports them to build their objects), which is what keeps the package graph free of cycles.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tallyhold.api.dependencies import CoreParts
from tallyhold.auth.dependencies import AuthParts
from tallyhold.auth.last_used import LastUsedRecorder
from tallyhold.auth.lookup import TokenLookup
from tallyhold.auth.throttle import FailureThrottle
from tallyhold.chains.options import ChainOptions
from tallyhold.chains.sync import build_wallet_request
from tallyhold.connections.dependencies import ConnectionParts
from tallyhold.credentials.cipher import CredentialCipher
from tallyhold.credentials.dependencies import CredentialParts
from tallyhold.credentials.runtime import vault_cipher
from tallyhold.credentials.service import CipherKeySource
from tallyhold.db import create_engine, create_session_maker
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig
from tallyhold.egress.slots import WorkerSlots
from tallyhold.exchanges.shared_budget import SharedBudget
from tallyhold.exchanges.sync import ExchangeRequests
from tallyhold.exchanges.verification import CredentialVerifier
from tallyhold.exchanges.verifier import ExchangeCredentialVerifier
from tallyhold.foreground import Foreground, yield_to
from tallyhold.health.checks import HealthParts, ReadinessCheck, database_check, not_configured
from tallyhold.portfolio.cache import AnswerCache, background_writes
from tallyhold.portfolio.dependencies import PortfolioParts
from tallyhold.settings import Settings
from tallyhold.sources.registry import RequestBuilder
from tallyhold.sync.control import SyncControl
from tallyhold.sync.dependencies import SyncParts
from tallyhold.sync.engine import SyncEngine
from tallyhold.sync.scheduler import SyncScheduler
from tallyhold.web import sessions
from tallyhold.web.dependencies import WebParts
from tallyhold.web.sessions import CookieSigner


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    session_maker: async_sessionmaker[AsyncSession]
    egress: EgressClient
    # Failed authentications per client address, shared by every route that checks a credential (API and pages).
    auth_throttle: FailureThrottle
    last_used: LastUsedRecorder
    # Reads a request's bearer token in one autocommit statement, outside any session (auth/lookup.py).
    token_lookup: TokenLookup
    # Proves exchange keys read-only, through the egress worker; the cipher is None without Vault settings.
    verifier: CredentialVerifier
    cipher: CredentialCipher | None
    # `/v1/networth`, `/v1/balances` and the dashboard reuse answers from here (portfolio/cache.py).
    answers: AnswerCache
    # Signs the web pages' cookies with a key made at start and never stored (a restart signs everyone out).
    cookie_signer: CookieSigner
    sync: SyncControl
    # The requests in flight, which background database work lets go first (`tallyhold serve` only).
    foreground: Foreground | None
    # A readiness probe answers "ok" or a short non-secret reason, one per dependency (`/readyz`).
    readiness: dict[str, ReadinessCheck]


class Served(
    CoreParts, AuthParts, ConnectionParts, CredentialParts, HealthParts, PortfolioParts, SyncParts, WebParts, Protocol
):
    """Every part a route's dependency reads from the runtime."""


def served(runtime: Runtime) -> Served:
    """What the app's lifespan installs for the routes (mypy checks here that the runtime has every part)."""
    return runtime


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, serving: bool, foreground: Foreground | None = None
) -> AsyncIterator[Runtime]:
    """The runtime of `tallyhold serve` (`serving`: background work gets a pool of its own, a bulkhead for API
    latency, and the scheduler runs when the settings say so) or of a command without HTTP (one pool, no
    scheduler). Vault down at start is not fatal: the readiness check reports it."""
    async with AsyncExitStack() as stack:
        engine = create_engine(settings, process="api" if serving else "sync")
        stack.push_async_callback(engine.dispose)
        session_maker = create_session_maker(engine)
        slots = settings.egress.worker_slots_dir
        egress = EgressClient(
            egress_config(settings),
            mode=settings.egress.mode,
            idle_seconds=settings.egress.idle_seconds,
            slots=WorkerSlots(slots, settings.egress.worker_slot_wait_seconds) if slots is not None else None,
            forkserver=settings.egress.forkserver_socket,
        )
        stack.push_async_callback(egress.aclose)
        last_used = LastUsedRecorder(session_maker, writes_as=background_writes)
        stack.push_async_callback(last_used.aclose)
        token_lookup = TokenLookup(
            settings.database.engine_url,
            settings.database.schema_name,
            f"{settings.customer_id}.auth",
            connections=settings.database.pool_size,
        )
        await token_lookup.open()
        stack.push_async_callback(token_lookup.aclose)
        cipher = await stack.enter_async_context(vault_cipher(settings))
        background, background_db = session_maker, engine
        if serving:
            background_db = create_engine(
                settings, process="scheduler", pool_size=settings.database.sync_pool_size, overflow=False
            )
            stack.push_async_callback(background_db.dispose)
            background = create_session_maker(background_db)
            if foreground is not None and settings.sync.yield_to_requests:
                yield_to(foreground, background_db)
        # The worker's questions to the exchange budget shared per egress IP go to Postgres on the background pool.
        egress.budget = SharedBudget(background_db)
        sync_engine = SyncEngine(settings, background, egress, request_builders(cipher))
        stack.push_async_callback(sync_engine.aclose)
        scheduler = SyncScheduler(settings, background, sync_engine) if serving and settings.sync.scheduler else None
        if scheduler is not None:
            scheduler.start()
            stack.callback(scheduler.shutdown)
        # Recomputes stale answers off the request path (portfolio/cache.py), on the background pool: behind the
        # requests in flight, like the syncs whose writes it follows (foreground.py).
        answers = AnswerCache(settings.portfolio.cache_seconds, background)
        stack.push_async_callback(answers.aclose)
        runtime = Runtime(
            settings=settings,
            engine=engine,
            session_maker=session_maker,
            egress=egress,
            auth_throttle=FailureThrottle(
                limit=settings.auth.throttle_failures,
                window_seconds=settings.auth.throttle_window_seconds,
                max_clients=settings.auth.throttle_max_clients,
            ),
            last_used=last_used,
            token_lookup=token_lookup,
            verifier=ExchangeCredentialVerifier(egress, settings),
            cipher=cipher,
            answers=answers,
            cookie_signer=sessions.new_signer(),
            sync=SyncControl(settings, sync_engine, scheduler),
            foreground=foreground,
            readiness={
                "database": database_check(engine),
                "vault": cipher.probe if cipher is not None else not_configured,
            },
        )
        yield runtime


def request_builders(cipher: CredentialCipher | None) -> dict[str, RequestBuilder]:
    """Connection kind → the request builder the sync engine calls for it; the exchange one decrypts keys
    through the customer's cipher (none configured: exchange syncs fail `credentials_unavailable`)."""
    return {
        "exchange": ExchangeRequests(CipherKeySource(cipher) if cipher is not None else None),
        "wallet": build_wallet_request,
    }


def egress_config(settings: Settings) -> EgressConfig:
    """The non-secret part of the settings that the egress worker needs."""
    rpc = {chain: str(url) for chain, url in settings.chains.evm_rpc.configured().items()}
    esplora = settings.chains.esplora_url
    return EgressConfig(
        customer_id=settings.customer_id,
        log_level=settings.log_level,
        exchange_api_overrides={k: str(v).rstrip("/") for k, v in settings.exchanges.api_overrides.items()},
        evm_rpc=rpc,
        esplora_url=str(esplora).rstrip("/") if esplora else None,
        price_venues=list(settings.prices.venues),
        options=egress_options(settings),
    )


def egress_options(settings: Settings) -> dict[str, Any]:
    """Per-domain tuning of the egress worker: the chain settings and whether the exchange budget is shared,
    then EGRESS_OPTIONS on top."""
    options: dict[str, dict[str, Any]] = {
        "chains": ChainOptions.from_settings(settings.chains).model_dump(exclude_unset=True),
        "exchanges": {"shared_budget": settings.exchanges.shared_budget},
    }
    for domain, tuning in settings.egress.options.items():
        options[domain] = {**options.get(domain, {}), **tuning}
    return dict(options)
