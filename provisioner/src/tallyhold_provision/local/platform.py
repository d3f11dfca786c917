"""The embedded platform of one state folder: Postgres, OpenBao and supervisord, each started on demand and
left running (they are daemons), each reporting whether this call started it, so that `make run` stops exactly
what it started and nothing else.

    <state>/postgres/     the cluster (data/, log, superuser password 0600, port)
    <state>/openbao/      storage, unseal key and root token (0600), audit log, port
    <state>/provisioner/  vault-approle.json (0600): the provisioner's own AppRole login
    <state>/supervisor/   supervisord (see local/supervisor.py)
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tallyhold.credentials.lifecycle import TENANT_POLICY
from tallyhold_provision.local.files import read_json, write_private_json
from tallyhold_provision.local.openbao import LocalOpenBao
from tallyhold_provision.local.postgres import LocalPostgres
from tallyhold_provision.local.supervisor import Supervisor
from tallyhold_provision.vault import AppRoleLogin, bootstrap


@dataclass
class LocalPlatform:
    state_dir: Path
    # The Vault layout `ensure_openbao` installs: the same settings the provisioner's Vault client then uses.
    transit_mount: str = "transit"
    approle_mount: str = "approle"
    tenant_policy: str = TENANT_POLICY
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
        """Start (or adopt) OpenBao, then install the policies and the provisioner's login (idempotent)."""
        with self._locked():
            started = not self.openbao.running()
            self.openbao.start()
            stored = read_json(self.login_file)
            previous = AppRoleLogin(str(stored["role_id"]), str(stored["secret_id"])) if stored else None
            login = bootstrap(
                self.openbao.admin_client(),
                previous,
                transit_mount=self.transit_mount,
                approle_mount=self.approle_mount,
                tenant_policy=self.tenant_policy,
            )
            if login != previous:
                self.login_file.parent.mkdir(mode=0o700, exist_ok=True)
                write_private_json(self.login_file, {"role_id": login.role_id, "secret_id": login.secret_id})
            return started

    def vault_login(self) -> AppRoleLogin:
        stored = read_json(self.login_file)
        if not stored:
            raise RuntimeError("the local OpenBao has not been bootstrapped")
        return AppRoleLogin(str(stored["role_id"]), str(stored["secret_id"]))

    def ensure_supervisor(self) -> bool:
        self.prepare()
        return self.supervisor.start()
