"""The host's egress worker fork server: `python -m tallyhold.egress.forkserver SOCKET`.

An egress worker spends most of its CPU importing ccxt, aiohttp, web3 and pydantic's models (about 0.6 of the
0.9 s a customer's sync cycle costs it, measured by bench/bench_worker_start.py), and a host of many customers
starts one per customer and sync interval. The fork server imports all of that once, then forks a worker for
each instance that asks: the worker starts with every library already loaded, and shares those pages with the
server until it writes them.

What crosses the socket (a Unix SOCK_SEQPACKET socket that every instance on the host may connect to):
- the instance sends `{"idle_seconds": <number>}` with three descriptors: the read end of the worker's stdin
  pipe, the write end of its stdout pipe, and the stderr the worker should log to;
- the server answers `{"pid": <pid>}` with a pidfd of the worker (the instance watches it for the worker's exit
  and signals the worker through it), or `{"error": "<code>"}` and no descriptor.

Nothing of a customer's passes through the server: the worker gets its configuration (venues, RPC addresses)
and every request on the stdin pipe, straight from its instance, after the fork.

The worker runs as exactly the user and group that connected (the kernel's SO_PEERCRED, not anything the
instance says), with no supplementary group, `no_new_privs`, in a session of its own (stopping the server
stops none of the workers), with only its three descriptors open, the server's allow-listed environment, and
the same nice value and scheduling policy as a worker the instance starts itself. So it can do nothing the
instance could not do by starting the worker itself, which it still does whenever the server is unset,
unreachable or refuses (tallyhold/egress/forked.py).

What workers forked from one server share that separately started ones do not: the memory layout of what the
server loaded (address space layout randomisation happens once, at the server's start) and Python's string hash
seed. Neither is a secret the egress worker relies on: it parses exchange and chain replies as JSON into
pydantic models and runs no code it is sent.

One request at a time: a connection that sends nothing within `REQUEST_TIMEOUT_SECONDS` is dropped. An
instance that keeps the server busy only sends the others back to starting their workers themselves.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import fcntl
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import stat
import sys
import threading
from pathlib import Path

from tallyhold.egress import worker
from tallyhold.egress.operations import OPERATIONS
from tallyhold.logging import configure_logging

logger = logging.getLogger("tallyhold.egress.forkserver")

REQUEST_TIMEOUT_SECONDS = 1.0
MAX_REQUEST_BYTES = 256
DESCRIPTORS = 3  # the worker's stdin, stdout and stderr
MAX_WORKERS_PER_USER = 8  # a bound on what one instance can make the server fork; honest ones hold one or two
MAX_IDLE_SECONDS = 3600.0
REAP_EVERY_SECONDS = 1.0
# What a worker needs of the environment: nothing the server was started with reaches a worker otherwise (the
# server re-executes itself with only these, so not even its first environment stays in its memory).
KEPT_ENVIRONMENT = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "VIRTUAL_ENV",
)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_NAME = 15
# A forked worker's command line is the server's (fork copies it); its name (`ps -o comm`, top, /proc/<pid>/comm)
# tells the two apart.
WORKER_NAME = b"th-egress-fork"
# Every venue and operation a worker may be asked for, imported before the first fork.
PRELOADED_MODULES = ("tallyhold.chains.bitcoin", "tallyhold.chains.evm", "tallyhold.chains.hdkeys")


class Refused(Exception):
    """A request the server does not fork for; its text is the code sent back."""


def preload() -> None:
    """What every worker would import, imported once here: the same narrowed imports a worker makes
    (`worker.prepare_imports`), every operation's models and handler, and every supported venue's ccxt class."""
    worker.prepare_imports()
    for operation in OPERATIONS.values():
        operation.request_model()
        operation.reply_model()
        operation.handler_function()
    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    import ccxt.async_support

    from tallyhold.exchanges.registry import ADAPTERS

    for venue in ADAPTERS:
        getattr(ccxt.async_support, venue)


class ForkServer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.children: dict[int, int] = {}  # worker pid -> the uid it runs as
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)

    def listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(self.path.lstat().st_mode):
                self.path.unlink()  # a previous server's; anything else in its place makes bind fail
        old_umask = os.umask(0o111)
        try:
            self.listener.bind(str(self.path))  # rw for every user: who may connect is decided by the folder
        finally:
            os.umask(old_umask)
        self.listener.listen(64)

    def serve_forever(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        while True:
            if selector.select(REAP_EVERY_SECONDS):
                connection, _ = self.listener.accept()
                with connection:
                    self.answer(connection)
            self.reap()

    def answer(self, connection: socket.socket) -> None:
        """Forks a worker for the connected instance, or refuses; every descriptor received is closed here before
        the answer is sent."""
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            message, descriptors, flags, _ = socket.recv_fds(
                connection, MAX_REQUEST_BYTES, DESCRIPTORS, socket.MSG_CMSG_CLOEXEC
            )
        except OSError as exc:  # the instance went away or sent nothing in time: nothing to answer
            logger.warning("an egress worker request failed", extra={"error_type": type(exc).__name__})
            return
        try:
            pid, uid, gid = self._peer(connection)
            idle_seconds = _request(message, flags, descriptors)
            if sum(1 for owner in self.children.values() if owner == uid) >= MAX_WORKERS_PER_USER:
                raise Refused("too_many_workers")
            child = self._fork(descriptors, uid, gid, idle_seconds)
        except Refused as refused:
            _close(descriptors)
            with contextlib.suppress(OSError):
                connection.send(json.dumps({"error": str(refused)}).encode())
            return
        _close(descriptors)
        pidfd = os.pidfd_open(child)  # no race: the child stays a zombie, its pid unused, until reap() collects it
        try:
            socket.send_fds(connection, [json.dumps({"pid": child}).encode()], [pidfd])
        except OSError:
            # The instance is gone: the worker reads the end of its stdin at once and exits.
            logger.warning("an egress worker was forked for an instance that went away", extra={"worker_pid": child})
        finally:
            os.close(pidfd)
        logger.info("forked an egress worker", extra={"peer_pid": pid, "worker_pid": child})

    @staticmethod
    def _peer(connection: socket.socket) -> tuple[int, int, int]:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, array.array("i").itemsize * 3)
        pid, uid, gid = array.array("i", credentials)
        if os.geteuid() != 0 and uid != os.geteuid():
            raise Refused("other_user")  # only root can fork a worker for another user
        return pid, uid, gid

    def _fork(self, descriptors: list[int], uid: int, gid: int, idle_seconds: float) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            try:
                self._become_worker(descriptors, uid, gid)
                worker.lower_priority()
                worker.run(idle_seconds)
            except BaseException:
                logger.exception("a forked egress worker failed")
                os._exit(70)
            os._exit(0)
        self.children[child] = uid
        return child

    def _become_worker(self, descriptors: list[int], uid: int, gid: int) -> None:
        """In the child, before anything of the worker runs."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        self.listener.close()
        # Above the standard streams first, so that no dup2 below overwrites a descriptor still to be moved.
        moved = [fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, DESCRIPTORS) for descriptor in descriptors]
        for target, descriptor in enumerate(moved):
            os.dup2(descriptor, target)  # inheritable, as a started process's standard streams are
        os.closerange(DESCRIPTORS, os.sysconf("SC_OPEN_MAX"))
        os.setsid()
        os.chdir("/")
        os.umask(0o077)
        if os.geteuid() == 0:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        _no_new_privileges()
        _name(WORKER_NAME)

    def reap(self) -> None:
        while self.children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.pop(pid, None)


def _close(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


def _name(name: bytes) -> None:
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(name), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def _no_new_privileges() -> None:
    """No exec of the worker's (there is none) can ever gain privileges again (setuid files, capabilities)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def _request(message: bytes, flags: int, descriptors: list[int]) -> float:
    """The idle time the request asks for; Refused unless it is exactly what an instance sends."""
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(descriptors) != DESCRIPTORS:
        raise Refused("malformed_request")
    for descriptor in descriptors:
        if not stat.S_ISFIFO(os.fstat(descriptor).st_mode) and descriptor != descriptors[2]:
            raise Refused("malformed_request")  # stdin and stdout are pipes; stderr may be a log file
    try:
        request = json.loads(message)
    except ValueError:
        raise Refused("malformed_request") from None
    idle = request.get("idle_seconds") if isinstance(request, dict) else None
    if isinstance(idle, bool) or not isinstance(idle, int | float) or not 0 < idle <= MAX_IDLE_SECONDS:
        raise Refused("malformed_request")
    return float(idle)


def clean_environment() -> None:
    """Re-executes the server with only `KEPT_ENVIRONMENT` when it was started with more (supervisord passes on
    the operator's environment, which may hold the provisioner's credentials)."""
    kept = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    if kept != dict(os.environ):
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], kept)  # noqa: S606 - ourselves, no shell


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tallyhold.egress.forkserver SOCKET")
    clean_environment()
    configure_logging("INFO")
    server = ForkServer(Path(sys.argv[1]))
    preload()
    if threading.active_count() != 1:
        raise SystemExit("error: a preloaded module started a thread; forking would copy it half-done")
    server.listen()
    logger.info("egress fork server ready", extra={"socket": str(server.path)})
    server.serve_forever()


if __name__ == "__main__":
    main()
