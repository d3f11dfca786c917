"""`tallyhold`: the instance's own command line (serve, migrate, tokens, config table)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import psycopg
import typer
from sqlalchemy.exc import SQLAlchemyError

from tallyhold.logging import secrets as secret_registry
from tallyhold.serve import BAD_SETTINGS, settings_or_errors
from tallyhold.serve import serve as run_server
from tallyhold.settings import Settings

app = typer.Typer(
    help="One customer's Tallyhold instance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")
token_app = typer.Typer(help="Access tokens for the instance's API.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _fail(exc: BaseException) -> NoReturn:
    """One line on stderr and a non-zero exit. SQLAlchemy's own text appends the statement and its parameters,
    so only the driver's primary message is shown."""
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    reason = getattr(diag, "message_primary", None) or str(orig).splitlines()[0][:300]
    typer.echo(f"error: {type(orig).__name__}: {secret_registry.scrub(reason)}", err=True)
    raise typer.Exit(1)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except (SQLAlchemyError, psycopg.Error, OSError) as exc:
        _fail(exc)


def _settings() -> Settings:
    settings = settings_or_errors()
    if isinstance(settings, list):
        typer.echo("\n".join(settings), err=True)
        raise typer.Exit(BAD_SETTINGS)
    return settings


@app.command()
def serve() -> None:
    """Run the API and the scheduler until interrupted. Refuses plain HTTP off loopback unless
    TALLYHOLD_TLS_UPSTREAM=true (see README, "HTTP, TLS and slow clients")."""
    code = run_server()
    if code:
        raise typer.Exit(code)


@app.command()
def migrate() -> None:
    """Migrate the customer's schema to the current version (never done by `serve`)."""
    from tallyhold.migrations import run_migrations

    settings = _settings()
    try:
        run_migrations(
            settings.database.migration_engine_url, settings.database.schema_name, settings.database.migration_role
        )
    except (SQLAlchemyError, psycopg.Error, OSError) as exc:
        _fail(exc)
    typer.echo("migrated")


@token_app.command("create")
def token_create(
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_in: Annotated[
        int | None,
        typer.Option(
            "--expires-in", min=1, max=3650, help="Days until it expires (default TALLYHOLD_TOKEN_EXPIRY_DAYS, 90)."
        ),
    ] = None,
) -> None:
    """Issue a token; it is printed once and only its hash is stored."""
    from datetime import timedelta

    from tallyhold.auth import service as token_service
    from tallyhold.db import create_engine, create_session_maker, transaction

    settings = _settings()
    lifetime = timedelta(days=expires_in or settings.auth.token_expiry_days)

    async def run() -> token_service.IssuedToken:
        engine = create_engine(settings, process="cli")
        try:
            async with transaction(create_session_maker(engine)) as session:
                return await token_service.issue(session, label[:100] or "cli", lifetime)
        finally:
            await engine.dispose()

    issued = _run(run())
    typer.echo(f"token: {issued.token}")
    typer.echo(f"expires: {issued.expires_at.isoformat(timespec='seconds')}")


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id (the 12 hex characters after `th_`)."""
    from tallyhold.auth import service as token_service
    from tallyhold.db import create_engine, create_session_maker, transaction
    from tallyhold.errors import NotFound

    settings = _settings()

    async def run() -> None:
        engine = create_engine(settings, process="cli")
        try:
            async with transaction(create_session_maker(engine)) as session:
                await token_service.revoke(session, token_id)
        finally:
            await engine.dispose()

    try:
        _run(run())
    except NotFound:
        typer.echo("error: no active token with that id", err=True)
        raise typer.Exit(1) from None
    typer.echo("revoked")


@app.command()
def sync(
    once: Annotated[bool, typer.Option("--once", help="Sync every source once, then exit.")] = False,
) -> None:
    """Sync every source once: the same code path as the scheduler and `POST /v1/sync`, then prices, the
    net-worth point and history retention. Exit 0 when every source synced (or was rightly skipped: breaker
    open, quarantined), 1 when one failed. The scheduler itself runs inside `tallyhold serve`."""
    if not once:
        typer.echo("error: only `tallyhold sync --once` exists; `tallyhold serve` runs the scheduler", err=True)
        raise typer.Exit(2)
    from tallyhold.runtime import open_runtime
    from tallyhold.sync.engine import SyncReport
    from tallyhold.sync.service import Trigger

    settings = _settings()

    async def run() -> SyncReport:
        async with open_runtime(settings, serving=False) as runtime:
            report = await runtime.sync.engine.sync_all(Trigger.manual)
            await runtime.sync.engine.apply_retention()
            return report

    report = _run(run())
    for result in report.results:
        typer.echo(f"{result.connection_id} {result.outcome.value} {result.code or '-'}")
    typer.echo(f"synced {len(report.results)} sources, {len(report.failed)} failed")
    if report.error is not None:
        typer.echo(f"error: {report.error}", err=True)
    if report.failed or report.error == "database_unavailable":
        raise typer.Exit(1)


@app.command("config-table")
def config_table() -> None:
    """Print the configuration table of the README (generated from the settings)."""
    from tallyhold.config_doc import markdown_table

    sys.stdout.write(markdown_table())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
