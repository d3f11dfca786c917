"""supervisord (PyPI `supervisor`) as the local backend's process manager: one program per customer.

All of its files live in one folder of the state directory: `supervisord.conf`, the control socket (mode
0700: whoever can reach it can start and stop every instance), its pid and log, and `conf.d/<id>.conf`, one
file per customer. Programs are changed one at a time under a file lock, the way `supervisorctl update`
does it, so concurrent commands on different customers never undo each other's work.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from tallyhold_provision.local.files import write_private

# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes with the terminating NUL).
MAX_SOCKET_PATH = 107
START_TIMEOUT_SECONDS = 30.0
RUNNING_STATES = {"STARTING", "RUNNING", "BACKOFF"}


# What of the operator's environment reaches supervisord, and so every program it runs (the instances, the fork
# server): how to run Python and reach the network, nothing else. No TALLYHOLD_ variable (instances get exactly
# what their env file says), and none of whatever else an operator's shell holds (VAULT_TOKEN, which hvac would
# pick up, AWS_*, PGPASSWORD, ...), which every customer's instance would otherwise inherit.
PASSED_ENVIRONMENT = frozenset(
    {
        "PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
        "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "VIRTUAL_ENV",
        "PYTHONOPTIMIZE", "PYTHONNODEBUGRANGES", "MALLOC_ARENA_MAX",
    }
)  # fmt: skip


def supervisord_environment(operator: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of the operator's environment (and the locale's LC_ variables)."""
    return {key: value for key, value in operator.items() if key in PASSED_ENVIRONMENT or key.startswith("LC_")}


class SupervisorError(RuntimeError):
    """supervisord could not be started or refused a change."""


@dataclass(frozen=True)
class Program:
    """What one customer's instance is, to supervisord."""

    name: str
    command: list[str]
    directory: Path
    log_file: Path
    autostart: bool
    stop_signal: str = "TERM"

    def config(self) -> str:
        lines = [
            f"[program:{self.name}]",
            f"command={_escape(shlex.join(self.command))}",
            f"directory={_escape(str(self.directory))}",
            f"autostart={'true' if self.autostart else 'false'}",
            "autorestart=true",
            "startsecs=1",
            "startretries=10",
            f"stopsignal={self.stop_signal}",
            "stopwaitsecs=15",
            # The egress worker is a child of the instance: stop and kill the whole process group.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={_escape(str(self.log_file))}",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=3",
        ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    # supervisord expands %(name)s in every value; a literal % must be doubled.
    if "\n" in value:
        raise ValueError("a supervisord value cannot span lines")
    return value.replace("%", "%%")


@dataclass
class Supervisor:
    root: Path

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.conf_file = self.root / "supervisord.conf"
        self.conf_dir = self.root / "conf.d"
        self.socket = self.root / "supervisord.sock"
        self.pid_file = self.root / "supervisord.pid"
        self.log_file = self.root / "supervisord.log"
        self.lock_file = self.root / ".lock"

    # -- the daemon ------------------------------------------------------------------------------------

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            state = self._rpc().supervisor.getState()
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state.get("statename") == "RUNNING")

    def start(self) -> bool:
        """Start supervisord (daemonised) unless it runs; True when this call started it."""
        if self.running():
            return False
        with self._locked():  # two commands starting it at once: the second finds it running
            if self.running():
                return False
            return self._start()

    def _start(self) -> bool:
        if len(str(self.socket)) > MAX_SOCKET_PATH:
            raise SupervisorError(f"the state folder path is too long for a Unix socket: {self.socket}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self.conf_dir.mkdir(exist_ok=True)
        write_private(self.conf_file, self._main_config())
        self.socket.unlink(missing_ok=True)
        exe = Path(sys.executable).with_name("supervisord")
        env = supervisord_environment(os.environ)
        result = subprocess.run(  # noqa: S603 - our own interpreter's supervisord, fixed arguments
            [str(exe), "-c", str(self.conf_file)], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SupervisorError(f"supervisord did not start: {result.stderr.strip()[-500:]}")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.running():
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"supervisord did not answer in {START_TIMEOUT_SECONDS:.0f} s; see {self.log_file}"
                )
            time.sleep(0.05)
        return True

    def shutdown(self) -> None:
        """Stop every program, then supervisord itself, and wait until it has exited."""
        if not self.running():
            return
        pid = self._pid()
        with suppress(OSError, xmlrpc.client.Error):  # it may be shutting down already
            self._rpc().supervisor.shutdown()
        deadline = time.monotonic() + 60
        while pid is not None and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- programs --------------------------------------------------------------------------------------

    def put(self, program: Program) -> bool:
        """Converge one program's definition; True when supervisord had to (re)load it."""
        with self._locked():
            path = self.conf_dir / f"{program.name}.conf"
            text = program.config()
            if path.exists() and path.read_text() == text and self._known(program.name):
                return False
            write_private(path, text)
            self._apply(program.name)
            return True

    def remove(self, name: str) -> None:
        with self._locked():
            (self.conf_dir / f"{name}.conf").unlink(missing_ok=True)
            if self.running():
                self._apply(name)

    def state(self, name: str) -> str | None:
        """supervisord's state name for the program (RUNNING, STOPPED, FATAL…), None when it has none."""
        if not self.running():
            return None
        try:
            info = self._rpc().supervisor.getProcessInfo(name)
        except xmlrpc.client.Fault:
            return None
        return str(info["statename"])

    def pid(self, name: str) -> int | None:
        try:
            info = self._rpc().supervisor.getProcessInfo(name)
        except (OSError, xmlrpc.client.Error):
            return None
        pid = int(info["pid"])
        return pid or None

    def start_program(self, name: str) -> None:
        if self.state(name) not in RUNNING_STATES:
            self._call("startProcess", name, False)

    def stop_program(self, name: str) -> None:
        if self.state(name) in RUNNING_STATES:
            self._call("stopProcess", name, True)

    def restart_program(self, name: str) -> None:
        self.stop_program(name)
        self._call("startProcess", name, False)

    def program_names(self) -> list[str]:
        if not self.running():
            return []
        return [str(info["name"]) for info in self._rpc().supervisor.getAllProcessInfo()]

    # -- internals -------------------------------------------------------------------------------------

    def _main_config(self) -> str:
        user = "user=root\n" if os.geteuid() == 0 else ""
        return (
            "[unix_http_server]\n"
            f"file={_escape(str(self.socket))}\n"
            "chmod=0700\n\n"
            "[supervisord]\n"
            f"logfile={_escape(str(self.log_file))}\n"
            "logfile_maxbytes=10MB\n"
            "logfile_backups=3\n"
            f"pidfile={_escape(str(self.pid_file))}\n"
            f"directory={_escape(str(self.root))}\n"
            f"childlogdir={_escape(str(self.root))}\n"
            "umask=077\n"
            # Each program holds a few descriptors in supervisord (its output pipes and log file): the default
            # floor (1024) would be reached near 250 customers on a host whose soft limit is that low.
            "minfds=8192\n"
            "identifier=tallyhold\n"
            f"{user}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            "[supervisorctl]\n"
            f"serverurl=unix://{_escape(str(self.socket))}\n\n"
            "[include]\n"
            f"files = {_escape(str(self.conf_dir))}/*.conf\n"
        )

    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def _call(self, method: str, *args: object) -> Any:
        try:
            return getattr(self._rpc().supervisor, method)(*args)
        except xmlrpc.client.Fault as fault:
            raise SupervisorError(f"supervisord refused {method}: {fault.faultString}") from None

    def _known(self, name: str) -> bool:
        return self.state(name) is not None

    def _apply(self, name: str) -> None:
        """`supervisorctl update`, restricted to one program group."""
        added, changed, removed = self._call("reloadConfig")[0]
        if name in changed or name in removed:
            if self.state(name) in RUNNING_STATES:
                self._call("stopProcessGroup", name, True)
            self._call("removeProcessGroup", name)
        if name in changed or name in added:
            self._call("addProcessGroup", name)

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
