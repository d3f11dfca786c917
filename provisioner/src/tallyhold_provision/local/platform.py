"""The embedded platform of one state folder: Postgres, OpenBao and supervisord, each started on demand and
left running (they are daemons), each reporting whether this call started it, so that `make run` stops exactly
what it started and nothing else.

    <state>/postgres/     the cluster (data/, log, superuser password 0600, port)
    <state>/openbao/      storage, unseal key (0600), audit log, port; the initial root token only until the
                          first bootstrap has finished, which revokes it
    <state>/provisioner/  vault-approle.json (0600): the provisioner's own AppRole login, which every command
                          uses, and a fingerprint of what was bootstrapped (policies, layout)

OpenBao has no standing root token: bootstrap (policies, mounts, the provisioner's role) runs with the initial
root token the first time, and later only when what it installs changed (a new policy template or Vault
layout) or the provisioner's login stopped working, each time with a root token generated from the unseal key
for the occasion and revoked at once. `break_glass` gives the operator a root token that expires.
    <state>/supervisor/   supervisord (see local/supervisor.py)
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import hvac.exceptions

from tallyhold_provision.local.files import read_json, write_private_json
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.local.supervisor import Supervisor
from tallyhold_provision.vault import AppRoleLogin, VaultLayout, bootstrap, bootstrap_fingerprint, login


def store_login(path: Path, login: AppRoleLogin, *, bootstrap: str) -> None:
    """The provisioner's AppRole login, in a folder and a file of root's (or the operator's) alone, with the
    fingerprint of the bootstrap that made it."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.parent.chmod(0o700)
    write_private_json(path, {"role_id": login.role_id, "secret_id": login.secret_id, "bootstrap": bootstrap})


@dataclass
class LocalPlatform:
    state_dir: Path
    # The Vault layout `ensure_openbao` installs: the same settings the provisioner's Vault client then uses.
    layout: VaultLayout = field(default_factory=VaultLayout)
    listen_all: bool = False  # Postgres and OpenBao on every address (the podman backend's pods reach them)

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir.resolve()
        self.postgres = LocalPostgres(self.state_dir / "postgres", listen_all=self.listen_all)
        self.openbao = LocalOpenBao(self.state_dir / "openbao", listen_all=self.listen_all)
        self.supervisor = Supervisor(self.state_dir / "supervisor")
        self.login_file = self.state_dir / "provisioner" / "vault-approle.json"

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Postgres runs as its own service user when we are root: it must be able to traverse to its folder.
        self.state_dir.chmod(0o711)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Two commands bringing the platform up at once: the second waits, then finds it running."""
        self.prepare()
        with (self.state_dir / ".platform.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure_postgres(self) -> bool:
        with self._locked():
            started = not self.postgres.running()
            self.postgres.start()
            return started

    def ensure_openbao(self) -> bool:
        """Start (or adopt) OpenBao; bootstrap it (policies, mounts, the provisioner's login) when it never was,
        when what bootstrap installs changed, or when the provisioner's login no longer works."""
        with self._locked():
            started = not self.openbao.running()
            self.openbao.start()
            stored = read_json(self.login_file) or {}
            previous = AppRoleLogin(str(stored["role_id"]), str(stored["secret_id"])) if stored else None
            wanted = bootstrap_fingerprint(self.layout)
            current = (
                previous is not None
                and stored.get("bootstrap") == wanted
                and not self.openbao.root_token_file.exists()
                and self._works(previous)
            )
            if not current:
                with self.openbao.root_session() as admin:
                    login = bootstrap(admin, previous, self.layout)
                store_login(self.login_file, login, bootstrap=wanted)
            return started

    def _works(self, stored: AppRoleLogin) -> bool:
        try:
            login(self.openbao.addr, approle=stored, approle_mount=self.layout.approle_mount)
        except hvac.exceptions.VaultError:
            return False
        return True

    def break_glass(self, ttl_seconds: int) -> str:
        """A root token for the operator, from the unseal key, that expires after `ttl_seconds` (the root token
        generated to make it is revoked at once)."""
        with self._locked(), self.openbao.root_session() as admin:
            created = admin.auth.token.create_orphan(
                policies=["root"], ttl=f"{ttl_seconds}s", renewable=False, display_name="break-glass"
            )
        return str(created["auth"]["client_token"])

    def vault_login(self) -> AppRoleLogin:
        stored = read_json(self.login_file)
        if not stored:
            raise RuntimeError("the local OpenBao has not been bootstrapped")
        return AppRoleLogin(str(stored["role_id"]), str(stored["secret_id"]))

    def ensure_supervisor(self) -> bool:
        self.prepare()
        return self.supervisor.start()
