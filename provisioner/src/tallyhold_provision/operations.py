"""The control plane: every `tallyhold-provision` command, as converging steps.

Each command takes the customer's advisory lock, then runs named steps. A step checks the real state (catalog,
Vault, supervisord) and changes only what differs, so rerunning any command after a crash at any point finishes
the job; the journal (registry.py) records each step's start, end or error. Order matters for crash safety:
secrets are saved before they are used (a rerun reuses them), the registry row comes first on `create` and
goes last on `destroy` (so a half-destroyed customer is still listed, in state `destroying`).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tallyhold import __version__ as tracker_version
from tallyhold_provision.backends.base import Backend, BackendError
from tallyhold_provision.errors import ProvisionError, UnknownCustomer, UnknownToken
from tallyhold_provision.instance_env import VaultIdentity, instance_environment
from tallyhold_provision.lock import customer_lock
from tallyhold_provision.naming import new_customer_id, validate_slug
from tallyhold_provision.postgres import Databases
from tallyhold_provision.registry import Customer, Registry, State
from tallyhold_provision.vault_plane import SECRET_ID_ACCESSOR_KEY, SecretIdRecord, VaultPlane

if TYPE_CHECKING:
    from tallyhold.auth.service import IssuedToken, TokenInfo

# Names of entries in the backend's secret store, and the label of the first token: not secrets themselves.
PASSWORD_KEY = "database_password"  # noqa: S105 - the name of a stored secret, not a secret
# The instance's secret id as the provisioner keeps it: the wrapping token it handed over and the accessor.
WRAPPED_SECRET_ID_KEY = "vault_wrapped_secret_id"  # noqa: S105 - the name of a stored secret, not a secret
FIRST_TOKEN_LABEL = "created by tallyhold-provision"  # noqa: S105 - a token's label, not a token
VAULT_RELOGIN_SECONDS = 20 * 60  # the provisioner's tokens live 1 h (vault.bootstrap)
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
# A token's id: the 12 hex characters after `th_` (the same rule as tallyhold.auth.service.TOKEN_ID, which is not
# imported here: it would load the tracker's ORM for every command).
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")
RENDER_PASSWORD = "<redacted>"  # noqa: S105 - stands in for the password in what `render` computes
JOURNAL_KEEP = 500  # journal entries kept per customer (about forty commands)


def schema_head() -> str | None:
    # Imported here (as are migrations and tokens below): Alembic and the tracker's ORM take a second to load,
    # and only the commands that migrate or issue tokens need them.
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import make_url

    from tallyhold.migrations import alembic_config

    # Alembic reads only the script location to find the head; the URL is never used for it.
    return ScriptDirectory.from_config(alembic_config(make_url("postgresql://"), "unused")).get_current_head()


@dataclass
class CreateResult:
    customer: Customer
    created: bool  # this run made the registry row
    token: str | None = field(default=None, repr=False)  # only on the customer's first successful creation


@dataclass
class UpgradeSummary:
    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class Provisioner:
    def __init__(
        self,
        *,
        databases: Databases,
        vault: Callable[[], VaultPlane] | None,
        backends: Mapping[str, Backend],
        environ: Mapping[str, str] | None = None,
        after_step: Callable[[str], None] | None = None,
        token_lifetime: timedelta = DEFAULT_TOKEN_LIFETIME,
    ) -> None:
        self.databases = databases
        self.token_lifetime = token_lifetime
        # Vault is reached lazily: `list` and `status` of a local customer need no login to start with.
        self._vault_factory = vault
        self._vault: VaultPlane | None = None
        self._vault_at = 0.0
        self.backends = backends
        self.environ = dict(os.environ if environ is None else environ)
        # Test hook: called after each step's completion is journalled (the crash-injection tests exit there).
        self.after_step = after_step
        self._conn = databases.connect_admin()
        self.registry = Registry(self._conn)
        self.registry.bootstrap()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Provisioner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------------------------

    def backend(self, name: str) -> Backend:
        try:
            return self.backends[name]
        except KeyError:
            raise ProvisionError(f"unknown backend {name!r} (choose from {', '.join(self.backends)})") from None

    @contextmanager
    def _locked(self, slug: str) -> Iterator[None]:
        with customer_lock(self.databases.admin_url, slug):
            yield

    def _customer(self, slug: str) -> Customer:
        customer = self.registry.get(validate_slug(slug))
        if customer is None:
            raise UnknownCustomer(slug)
        return customer

    @contextmanager
    def _step(self, customer: Customer, operation: str, step: str) -> Iterator[None]:
        self.registry.record(customer, operation, step, "start")
        try:
            yield
        except ProvisionError as exc:
            self.registry.record(customer, operation, step, "error", str(exc)[:500])
            raise
        except BackendError as exc:
            self.registry.record(customer, operation, step, "error", str(exc)[:500])
            raise ProvisionError(f"{customer.slug}: {exc}") from None
        except Exception as exc:
            # Other exceptions' texts can quote servers' answers: only the class goes in the journal.
            self.registry.record(customer, operation, step, "error", type(exc).__name__)
            raise
        self.registry.record(customer, operation, step, "done")
        if self.after_step is not None:
            self.after_step(step)

    # -- create ------------------------------------------------------------------------------------------

    def create(
        self, slug: str, *, backend: str, owner_email: str | None = None, token_label: str = FIRST_TOKEN_LABEL
    ) -> CreateResult:
        validate_slug(slug)
        chosen = self.backend(backend)
        chosen.check_available()  # before any change: an unavailable backend leaves nothing behind
        self._require_vault()
        with self._locked(slug):
            customer = self.registry.get(slug)
            created = customer is None
            if customer is None:
                customer = self.registry.insert(
                    Customer(new_customer_id(), slug, backend, State.provisioning, owner_email=owner_email)
                )
                self.registry.record(customer, "create", "registry", "done")
                if self.after_step is not None:
                    self.after_step("registry")
            else:
                if customer.backend != backend:
                    raise ProvisionError(f"{slug} already exists on the {customer.backend} backend")
                if customer.state is State.destroying:
                    raise ProvisionError(f"{slug} is being destroyed; run `destroy {slug} --yes` again to finish")
                if owner_email is not None and owner_email != customer.owner_email:
                    self.registry.update(customer, owner_email=owner_email)
            first_token = token_label if customer.first_token_at is None else None
            token = self._converge(customer, "create", first_token=first_token)
            return CreateResult(customer=customer, created=created, token=token)

    def _converge(self, customer: Customer, operation: str, *, first_token: str | None = None) -> str | None:
        """`first_token`: the label of a token to issue at the end (a customer's first creation)."""
        backend = self.backend(customer.backend)
        vault = self._require_vault()
        names = customer.names
        secrets_ = backend.load_secrets(customer)

        with self._step(customer, operation, "database"):
            if PASSWORD_KEY not in secrets_:
                secrets_[PASSWORD_KEY] = secrets.token_urlsafe(32)
                backend.save_secrets(customer, secrets_)  # saved before use: a crash right after reuses it
            self.databases.converge_tenant(names, secrets_[PASSWORD_KEY])

        with self._step(customer, operation, "migrations"):
            from tallyhold.migrations import run_migrations

            run_migrations(self.databases.migration_url(), names.schema, names.owner_role)
            head = schema_head()
            if customer.schema_revision != head:
                self.registry.update(customer, schema_revision=head)

        with self._step(customer, operation, "vault"):
            vault.ensure_tenant(names, backend.vault_auth)
            if backend.vault_auth == "approle":
                current = _secret_id_record(secrets_)
                record = vault.ensure_secret_id(names, current)
                if record != current:
                    secrets_[WRAPPED_SECRET_ID_KEY] = record.wrapping_token
                    secrets_[SECRET_ID_ACCESSOR_KEY] = record.accessor
                    backend.save_secrets(customer, secrets_)  # saved before use: a crash right after reuses it

        running = customer.state is not State.suspended
        with self._step(customer, operation, "instance"):
            env = self._instance_env(customer, backend, secrets_)
            endpoint = backend.deploy(customer, env, running=running)
            changes: dict[str, object] = {}
            for column, value in (
                ("url", endpoint.url),
                ("metrics_url", endpoint.metrics_url),
                ("backend_state", endpoint.backend_state),
                ("version", tracker_version),
            ):
                if getattr(customer, column) != value:
                    changes[column] = value
            if changes:
                self.registry.update(customer, **changes)
            if backend.vault_auth == "approle":
                # The instance now holds the new secret id (or will unwrap it when it starts): any other one of
                # its role, an earlier one or one made outside this command, stops working.
                vault.retire_secret_ids(names, keep=secrets_[SECRET_ID_ACCESSOR_KEY])

        token = None
        if first_token is not None:
            with self._step(customer, operation, "first_token"):
                from tallyhold_provision.tokens import issue_token

                app_url = self.databases.app_url(names, secrets_[PASSWORD_KEY])
                token = issue_token(app_url, names, first_token, self.token_lifetime).token

        with self._step(customer, operation, "finish"):
            final: dict[str, object] = {}
            if customer.state is State.provisioning:
                final["state"] = State.active
            if token is not None:
                final["first_token_at"] = datetime.now(UTC)
            if final:
                self.registry.update(customer, **final)
            self.registry.trim_journal(customer, JOURNAL_KEEP)
        return token

    def vault(self) -> VaultPlane:
        return self._require_vault()

    def _require_vault(self) -> VaultPlane:
        # A fresh login well before the provisioner's token could expire (a long `upgrade --all`).
        if self._vault is None or time.monotonic() - self._vault_at > VAULT_RELOGIN_SECONDS:
            if self._vault_factory is None:
                raise ProvisionError("no Vault configured: set TALLYHOLD_PROVISIONER_VAULT_ADDR (there is no fallback)")
            self._vault = self._vault_factory()
            self._vault_at = time.monotonic()
        return self._vault

    # -- other commands ----------------------------------------------------------------------------------

    def customers(self) -> list[Customer]:
        return self.registry.all()

    def get(self, slug: str) -> Customer:
        return self._customer(slug)

    def token(
        self, slug: str, label: str, lifetime: timedelta | None = None, *, replace_label: bool = False
    ) -> tuple[Customer, IssuedToken]:
        """A new token (`lifetime` defaults to the provisioner's TOKEN_EXPIRY_DAYS); with `replace_label`, the
        earlier tokens of that label are revoked with it."""
        from tallyhold_provision.tokens import issue_token

        with self._locked(slug):
            customer, app_url = self._app_database(slug)
            with self._step(customer, "token", "issue"):
                issued = issue_token(
                    app_url,
                    customer.names,
                    label,
                    lifetime if lifetime is not None else self.token_lifetime,
                    replace_label=replace_label,
                )
            return customer, issued

    def tokens(self, slug: str) -> list[TokenInfo]:
        from tallyhold_provision.tokens import list_tokens

        customer, app_url = self._app_database(slug)
        return list_tokens(app_url, customer.names)

    def revoke_token(self, slug: str, token_id: str) -> None:
        """Takes effect at once (every request checks its token's row). Raises UnknownToken."""
        from tallyhold.errors import NotFound
        from tallyhold_provision.tokens import revoke_token

        if not TOKEN_ID.fullmatch(token_id):
            raise ProvisionError("TOKEN_ID is the 12 hex characters after `th_` (see `tokens SLUG`)")
        with self._locked(slug):
            customer, app_url = self._app_database(slug)
            with self._step(customer, "revoke-token", "revoke"):
                try:
                    revoke_token(app_url, customer.names, token_id)
                except NotFound:
                    raise UnknownToken(slug, token_id) from None

    def _app_database(self, slug: str) -> tuple[Customer, str]:
        """The customer and its app role's database URL, for token work (which the app role is allowed)."""
        customer = self._customer(slug)
        if customer.state in {State.provisioning, State.destroying}:
            raise ProvisionError(f"{slug} is {customer.state.value}; run `create {slug}` first")
        password = self.backend(customer.backend).load_secrets(customer).get(PASSWORD_KEY)
        if password is None:
            raise ProvisionError(f"{slug} has no database credentials on this machine; run `create {slug}`")
        return customer, self.databases.app_url(customer.names, password)

    def suspend(self, slug: str) -> Customer:
        with self._locked(slug):
            customer = self._customer(slug)
            self._refuse_unfinished(customer, "suspend")
            if customer.state is not State.suspended:
                self.registry.update(customer, state=State.suspended)
            with self._step(customer, "suspend", "instance"):
                backend = self.backend(customer.backend)
                secrets_ = backend.load_secrets(customer)
                if PASSWORD_KEY in secrets_:
                    # Rewritten with autostart off, so that it stays stopped across supervisord restarts.
                    backend.deploy(customer, self._instance_env(customer, backend, secrets_), running=False)
                else:
                    backend.stop(customer)
            return customer

    def _instance_env(self, customer: Customer, backend: Backend, secrets_: dict[str, str]) -> dict[str, str]:
        vault = self._require_vault()
        names = customer.names
        approle = backend.vault_auth == "approle"
        identity = VaultIdentity(
            addr=vault.addr,
            key=names.transit_key,
            auth=backend.vault_auth,
            transit_mount=vault.transit_mount,
            approle_mount=vault.approle_mount,
            role_id=names.vault_role if approle else None,
            wrapped_secret_id=secrets_.get(WRAPPED_SECRET_ID_KEY) if approle else None,
            cacert=vault.cacert,
        )
        database_url = self.databases.app_url(names, secrets_[PASSWORD_KEY])
        return instance_environment(names, database_url, identity, self.environ)

    def resume(self, slug: str) -> Customer:
        with self._locked(slug):
            customer = self._customer(slug)
            self._refuse_unfinished(customer, "resume")
            if customer.state is State.suspended:
                self.registry.update(customer, state=State.active)
            self._converge(customer, "resume")
            return customer

    def upgrade(self, slugs: list[str], progress: Callable[[str], None] | None = None) -> UpgradeSummary:
        """Rolling: one customer at a time, each healthy before the next; a failure is noted, not fatal."""
        summary = UpgradeSummary()
        for slug in slugs:
            if progress is not None:
                progress(slug)
            try:
                with self._locked(slug):
                    customer = self._customer(slug)
                    self._refuse_unfinished(customer, "upgrade")
                    self._converge(customer, "upgrade")
                    if customer.state is State.active:
                        with self._step(customer, "upgrade", "restart"):
                            self.backend(customer.backend).restart(customer)
                summary.upgraded.append(slug)
            except (ProvisionError, BackendError) as exc:
                summary.failed[slug] = str(exc)
            except Exception as exc:  # one customer's failure must not stop the rolling upgrade of the others
                summary.failed[slug] = f"{type(exc).__name__} (see the journal: status {slug})"
        return summary

    def rotate_key(self, slug: str) -> int:
        with self._locked(slug):
            customer = self._customer(slug)
            self._refuse_unfinished(customer, "rotate-key")
            vault = self._require_vault()
            auth = self.backend(customer.backend).vault_auth
            with self._step(customer, "rotate-key", "rotate_rewrap"):
                return vault.rotate(customer.names, self.databases.tenant_admin_url(), customer.names.schema, auth)

    def destroy(self, slug: str) -> Customer | None:
        """Idempotent: an unknown slug is already destroyed (None)."""
        validate_slug(slug)
        with self._locked(slug):
            customer = self.registry.get(slug)
            if customer is None:
                return None
            if customer.state is not State.destroying:
                self.registry.update(customer, state=State.destroying)
            names = customer.names
            with self._step(customer, "destroy", "instance"):
                self.backend(customer.backend).remove(customer)
            with self._step(customer, "destroy", "vault"):
                self._require_vault().destroy_tenant(names)
            with self._step(customer, "destroy", "database"):
                self.databases.drop_tenant(names)
            self.registry.delete(customer)  # last: the journal goes with the row
            if self.after_step is not None:
                self.after_step("registry")
            return customer

    def render(self, slug: str, backend: str) -> str:
        """What `create SLUG --backend BACKEND` applies, without applying anything: no cluster, no Vault login.
        A customer of the registry is rendered with its own id (and ports); a new slug with a fresh id. The
        database password is not read: a stand-in takes its place, and secrets are shown by name or redacted.
        The Vault login settings (`create` adds them) are left out: rendering them would need a login."""
        chosen = self.backend(backend)
        customer = self.registry.get(validate_slug(slug))
        if customer is None:
            customer = Customer(new_customer_id(), slug, backend, State.provisioning)
        names = customer.names
        database_url = self.databases.app_url(names, RENDER_PASSWORD)
        return chosen.render(customer, instance_environment(names, database_url, None, self.environ))

    def _refuse_unfinished(self, customer: Customer, command: str) -> None:
        if customer.state is State.destroying:
            raise ProvisionError(f"{customer.slug} is being destroyed; run `destroy {customer.slug} --yes` to finish")
        if customer.state is State.provisioning:
            raise ProvisionError(f"{customer.slug} was not fully created; run `create {customer.slug}` to finish")


def _secret_id_record(secrets_: Mapping[str, str]) -> SecretIdRecord | None:
    token, accessor = secrets_.get(WRAPPED_SECRET_ID_KEY), secrets_.get(SECRET_ID_ACCESSOR_KEY)
    return SecretIdRecord(token, accessor) if token and accessor else None
