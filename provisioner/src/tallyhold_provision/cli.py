"""`tallyhold-provision`: the operator's command line (README, "Operator guide").

Errors print one line to stderr and exit non-zero; `--json` prints one JSON document on stdout. `status`
exits 0 only when every part is healthy, 1 when one is not, 2 when it could not find out (unknown customer,
unreachable registry).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from tallyhold_provision.backends.base import BackendError
from tallyhold_provision.config import BackendName, ProvisionerSettings, config_table
from tallyhold_provision.errors import ProvisionError
from tallyhold_provision.naming import validate_slug

if TYPE_CHECKING:
    from tallyhold_provision.operations import Provisioner

# The heavy modules (database, Vault, migrations) are imported inside the commands that need them: usage errors
# answer at once, and `--help` does not load the whole tracker.

app = typer.Typer(
    help="Create, upgrade, rotate, suspend and destroy customers' Tallyhold stacks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Slug = Annotated[str, typer.Argument(help="The customer's slug: ^[a-z][a-z0-9-]{1,30}[a-z0-9]$.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> ProvisionerSettings:
    try:
        return ProvisionerSettings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"error: TALLYHOLD_PROVISIONER_{field}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


@contextmanager
def _provisioner(error_code: int = 1) -> Iterator[Provisioner]:
    from tallyhold_provision.factory import build

    with _errors(error_code):
        provisioner = build(_settings())
        try:
            yield provisioner
        finally:
            provisioner.close()


@contextmanager
def _errors(code: int = 1) -> Iterator[None]:
    """Every failure becomes one line. Texts of our own errors are shown; others only by their class, because
    a server's message could quote what we sent it."""
    try:
        yield
    except typer.Exit:
        raise
    except (ProvisionError, BackendError) as exc:
        _fail(str(exc), code)
    except Exception as exc:  # the operator gets one line, never a traceback that could quote a server's answer
        _fail(_describe(exc), code)


def _describe(exc: Exception) -> str:
    import hvac.exceptions
    import psycopg

    from tallyhold_provision.local.openbao import OpenBaoError
    from tallyhold_provision.local.postgres import PostgresError
    from tallyhold_provision.local.supervisor import SupervisorError
    from tallyhold_provision.rotation import RewrapIncomplete
    from tallyhold_provision.tenant_vault import KeyMisconfigured

    # Our own messages: paths, names, counts and the local servers' own start-up errors, never a secret.
    if isinstance(exc, KeyMisconfigured | RewrapIncomplete | OpenBaoError | PostgresError | SupervisorError):
        return str(exc)
    if isinstance(exc, psycopg.OperationalError):
        return "cannot reach the admin database (TALLYHOLD_PROVISIONER_ADMIN_DATABASE_URL)"
    if isinstance(exc, hvac.exceptions.Forbidden):
        return "Vault refused the provisioner's request (403): check its policy (deploy/vault/provisioner.hcl.tmpl)"
    if isinstance(exc, hvac.exceptions.VaultError):
        return f"Vault failed the request ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or 'I/O error'}"
    return f"unexpected failure ({type(exc).__name__}); `status SLUG` shows the step it stopped at"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command()
def create(
    slug: Slug,
    backend: Annotated[BackendName | None, typer.Option(help="Where the instance runs (default: local).")] = None,
    owner_email: Annotated[str | None, typer.Option("--owner-email", help="Kept in the registry only.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Converge the customer's stack; prints the URL, and a one-time token on first creation only."""
    with _errors():
        validate_slug(slug)
        if owner_email is not None and ("@" not in owner_email or len(owner_email) > 254 or "\n" in owner_email):
            _fail("--owner-email is not an e-mail address")
    settings = _settings()
    chosen = (backend or settings.DEFAULT_BACKEND).value
    with _provisioner() as provisioner, _errors():
        result = provisioner.create(slug, backend=chosen, owner_email=owner_email)
    customer = result.customer
    if as_json:
        _print_json({**customer.public(), "created": result.created, "token": result.token})
        return
    verb = "created" if result.created else "converged"
    typer.echo(f"{verb} {customer.slug} ({customer.id}) on the {customer.backend} backend", err=True)
    typer.echo(f"url: {customer.url}")
    if result.token:
        typer.echo(f"token: {result.token}")
        typer.echo("The token is shown once; `tallyhold-provision token SLUG` issues another.", err=True)


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """One row per customer: slug, id, backend, state, URL, version."""
    with _provisioner() as provisioner, _errors():
        customers = provisioner.customers()
    if as_json:
        _print_json([c.public() for c in customers])
        return
    rows = [("SLUG", "ID", "BACKEND", "STATE", "URL", "VERSION")]
    rows += [(c.slug, c.id, c.backend, c.state.value, c.url or "-", c.version or "-") for c in customers]
    _print_table(rows)


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@app.command()
def status(slug: Slug, as_json: JsonFlag = False) -> None:
    """Health of each part (db, vault, instance, last sync); exit 0 only when all are healthy."""
    import hvac.exceptions

    from tallyhold_provision.operations import schema_head
    from tallyhold_provision.status import collect

    settings = _settings()
    with _provisioner(error_code=2) as provisioner, _errors(2):
        customer = provisioner.get(slug)
        vault = None
        try:
            vault = provisioner.vault()
        except (ProvisionError, OSError, hvac.exceptions.VaultError):
            vault = None  # reported as the vault part's health below
        report = collect(
            customer,
            databases=provisioner.databases,
            vault=vault,
            backend=provisioner.backend(customer.backend),
            head=schema_head(),
            overdue_after=settings.SYNC_OVERDUE_SECONDS,
            journal=provisioner.registry.journal(customer),
        )
    if as_json:
        _print_json(report.as_json())
    else:
        state = customer.state.value
        typer.echo(f"{customer.slug} ({customer.id}): {state}, {customer.backend}, version {customer.version}")
        for name, part in report.parts.items():
            mark = "ok " if part.healthy else "BAD"
            typer.echo(f"  {mark} {name:<10} {part.state:<12} {part.detail or ''}".rstrip())
        last = report.last_step
        if last is not None and customer.state.value in {"provisioning", "destroying"}:
            command = "create" if customer.state.value == "provisioning" else "destroy"
            typer.echo(f"  unfinished: {last.operation} got to step {last.step} ({last.event}); run {command} again")
        typer.echo(f"url: {customer.url}")
        typer.echo(f"metrics_url: {customer.metrics_url}")
    raise typer.Exit(0 if report.healthy else 1)


@app.command()
def token(
    slug: Slug,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "operator",
    expires_in: Annotated[
        int | None,
        typer.Option(
            "--expires-in",
            min=1,
            max=3650,
            help="Days until it expires (default TALLYHOLD_PROVISIONER_TOKEN_EXPIRY_DAYS, 90).",
        ),
    ] = None,
) -> None:
    """Issue a new access token for the instance (shown once)."""
    from datetime import timedelta

    lifetime = timedelta(days=expires_in) if expires_in is not None else None
    with _provisioner() as provisioner, _errors():
        customer, issued = provisioner.token(slug, label, lifetime)
    typer.echo(f"url: {customer.url}")
    typer.echo(f"token: {issued.token}")
    typer.echo(f"expires: {issued.expires_at.isoformat(timespec='seconds')}")
    typer.echo(f"The token is shown once; `revoke-token {slug} {issued.id}` revokes it.", err=True)


@app.command()
def tokens(slug: Slug, as_json: JsonFlag = False) -> None:
    """The customer's tokens: id, label, created, expires, last used, state (never the secret)."""
    with _provisioner() as provisioner, _errors():
        found = provisioner.tokens(slug)
    if as_json:
        _print_json([info.public() for info in found])
        return

    def when(moment: datetime | None) -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"

    rows = [("ID", "LABEL", "CREATED", "EXPIRES", "LAST USED", "STATE")]
    rows += [
        (t.id, t.label, when(t.created_at), when(t.expires_at), when(t.last_used_at), t.state.value) for t in found
    ]
    _print_table(rows)


@app.command("revoke-token")
def revoke_token(
    slug: Slug, token_id: Annotated[str, typer.Argument(help="The 12 hex characters after `th_`.")]
) -> None:
    """Revoke one token; it is refused from the next request on."""
    with _provisioner() as provisioner, _errors():
        provisioner.revoke_token(slug, token_id)
    typer.echo(f"revoked {token_id}")


@app.command()
def upgrade(
    slug: Annotated[str | None, typer.Argument(help="One customer (or --all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every customer, one at a time.")] = False,
) -> None:
    """Run migrations and roll instances to the current version; one failure does not stop the others."""
    if (slug is None) == (not all_):
        _fail("give a SLUG or --all (not both)", 2)
    with _provisioner() as provisioner, _errors():
        slugs = [c.slug for c in provisioner.customers()] if all_ else [validate_slug(str(slug))]
        summary = provisioner.upgrade(slugs, progress=lambda s: typer.echo(f"upgrading {s}…", err=True))
    for name in summary.upgraded:
        typer.echo(f"upgraded {name}")
    for name, reason in summary.failed.items():
        typer.echo(f"FAILED {name}: {reason}")
    typer.echo(f"summary: {len(summary.upgraded)} upgraded, {len(summary.failed)} failed")
    raise typer.Exit(1 if summary.failed else 0)


@app.command("rotate-key")
def rotate_key(slug: Slug) -> None:
    """Rotate the transit key, rewrap every ciphertext, raise min_decryption_version."""
    with _provisioner() as provisioner, _errors():
        version = provisioner.rotate_key(slug)
    typer.echo(f"rotated {slug}: key version {version}; older versions can no longer decrypt")


@app.command()
def suspend(slug: Slug) -> None:
    """Stop the instance; data and keys untouched."""
    _simple(lambda p: p.suspend(slug), f"suspended {slug}")


@app.command()
def resume(slug: Slug) -> None:
    """Start the instance again."""
    _simple(lambda p: p.resume(slug), f"resumed {slug}")


def _simple(action: Callable[[Provisioner], object], message: str) -> None:
    with _provisioner() as provisioner, _errors():
        action(provisioner)
    typer.echo(message)


@app.command()
def destroy(
    slug: Slug,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this deletes the customer's data and key.")] = False,
) -> None:
    """Delete the instance, schema, roles, auth role and transit key (crypto-shred). Idempotent."""
    if not yes:
        _fail("destroy deletes the customer's data and its key for good; add --yes to confirm", 2)
    with _provisioner() as provisioner, _errors():
        gone = provisioner.destroy(slug)
    typer.echo(f"destroyed {slug} ({gone.id})" if gone else f"{slug} does not exist: nothing to destroy")


@app.command()
def render(
    slug: Slug,
    backend: Annotated[
        BackendName, typer.Option(help="The backend whose objects to print: kubernetes or podman.")
    ] = BackendName.kubernetes,
) -> None:
    """Print what `create` with that backend applies (the podman stack and its commands, or the Kubernetes
    manifests), without applying anything, without a cluster and without a Vault login; secrets are redacted."""
    with _errors():
        validate_slug(slug)
    with _provisioner() as provisioner, _errors():
        manifests = provisioner.render(slug, backend.value)
    sys.stdout.write(manifests)


@app.command("break-glass")
def break_glass(
    ttl_minutes: Annotated[int, typer.Option("--ttl-minutes", min=1, max=1440, help="Lifetime of the token.")] = 60,
) -> None:
    """Local OpenBao only: print a root token, made from the unseal key, that expires (no root token is kept)."""
    from tallyhold_provision.local.platform import LocalPlatform

    settings = _settings()
    if settings.VAULT_ADDR is not None:
        _fail("break-glass is for the local OpenBao; for your own Vault use `vault operator generate-root`", 2)
    with _errors():
        platform = LocalPlatform(settings.state_dir, settings.vault_layout)
        platform.ensure_openbao()
        token = platform.break_glass(ttl_minutes * 60)
    typer.echo(f"root_token: {token}")
    typer.echo(
        f"This root token expires in {ttl_minutes} min; revoke it sooner with `bao token revoke -self`.", err=True
    )


@app.command("config-table", hidden=True)
def config_table_command() -> None:
    """Print the README's table of TALLYHOLD_PROVISIONER_* settings."""
    sys.stdout.write(config_table())


def main() -> None:
    app()
