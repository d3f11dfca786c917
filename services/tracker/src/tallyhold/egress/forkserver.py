"""The host's egress worker fork server: `python -m tallyhold.egress.forkserver SOCKET` (or `--listen-fd N`).

An egress worker spends most of its CPU importing ccxt, aiohttp, web3 and pydantic's models (about 0.6 of the
0.9 s a customer's sync cycle costs it, measured by bench/bench_worker_start.py), and a host of many customers
starts one per customer and sync interval. The fork server imports all of that once, then forks a worker for
each instance that asks: the worker starts with every library already loaded, and shares those pages with the
server until it writes them.

What crosses the socket (a Unix SOCK_SEQPACKET socket that every instance on the host may connect to):
- the instance sends `{"idle_seconds": <number>}` and nothing else (a request with descriptors is refused, and
  the kernel discards them unopened: the server never holds anything of an instance's);
- the server makes the worker's three pipes, forks, and answers `{"pid": <pid>}` with four descriptors: the
  write end of the worker's stdin, the read ends of its stdout and stderr, and a pidfd of the worker (the
  instance watches it for the worker's exit and signals the worker through it); or `{"error": "<code>"}` and
  no descriptor.

Nothing of a customer's passes through the server: the worker gets its configuration (venues, RPC addresses)
and every request on the stdin pipe, straight from its instance, after the fork.

The worker runs as exactly the user and group that connected (the kernel's SO_PEERCRED, not anything the
instance says), with no supplementary group, `no_new_privs`, not dumpable, in a session of its own (stopping
the server stops none of the workers), with only its three streams open, the server's allow-listed environment,
and the same nice value and scheduling policy as a worker the instance starts itself. So it can do nothing the
instance could not do by starting the worker itself, which it still does whenever the server is unset,
unreachable or refuses (tallyhold/egress/forked.py).

What workers forked from one server share that separately started ones do not: what the server's start decided
once, among it the memory layout of what it loaded (address space layout randomisation happens at an exec), the
stack protector's canary and Python's string hash seed. Those protect native parsers (aiohttp's, OpenSSL's)
against memory-safety bugs, so a bug that leaks them from one customer's worker weakens every other worker of
the host against a second bug: the trade-off every fork server makes, stated in the README with the way to
turn the server off.

One request at a time: a connection that sends nothing within `REQUEST_TIMEOUT_SECONDS` is dropped. An
instance that keeps the server busy only sends the others back to starting their workers themselves.
"""

from __future__ import annotations

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
import struct
import sys
import threading
from pathlib import Path

from tallyhold.egress import worker
from tallyhold.egress.operations import OPERATIONS
from tallyhold.logging import configure_logging

logger = logging.getLogger("tallyhold.egress.forkserver")

REQUEST_TIMEOUT_SECONDS = 1.0
MAX_REQUEST_BYTES = 256
DESCRIPTORS = 3  # the worker's stdin, stdout and stderr: pipes the server makes
MAX_WORKERS_PER_USER = 8  # a bound on what one instance can make the server fork; honest ones hold one or two
MAX_IDLE_SECONDS = 3600.0
REAP_EVERY_SECONDS = 1.0
# What a worker needs of the environment: nothing the server was started with reaches a worker otherwise (the
# server re-executes itself with only these, so not even its first environment stays in its memory).
KEPT_ENVIRONMENT = worker.WORKER_ENVIRONMENT
PR_SET_NO_NEW_PRIVS = 38
PR_SET_NAME = 15
PR_SET_DUMPABLE = 4
SO_PASSRIGHTS = 83  # Linux 6.16's socket option: 0 refuses SCM_RIGHTS sent to the socket
# Where 83 is that option (asm-generic numbering); other architectures number socket options their own way, and
# there the server relies on discarding what is sent instead (never sets an option it cannot name).
GENERIC_SOCKET_OPTIONS = frozenset({"x86_64", "aarch64", "riscv64"})
UCRED = struct.Struct("iII")  # struct ucred: pid_t pid, uid_t uid, gid_t gid
# A forked worker's command line is the server's (fork copies it); its name (`ps -o comm`, top, /proc/<pid>/comm)
# tells the two apart.
WORKER_NAME = b"th-egress-fork"
# What a worker imports only when a request needs it, imported before the first fork; by import path, as the
# operations are (egress/operations.py), so that egress imports none of the domains.
PRELOADED_MODULES = ("tallyhold.chains.bitcoin", "tallyhold.chains.evm", "tallyhold.chains.hdkeys")
PRELOADED_CALLS = ("tallyhold.exchanges.preload:import_venues",)


class Refused(Exception):
    """A request the server does not fork for; its text is the code sent back."""


def preload() -> None:
    """What every worker would import, imported once here: the same narrowed imports a worker makes
    (`worker.prepare_imports`), every operation's models and handler, the chain readers, and every supported
    venue's ccxt class."""
    worker.prepare_imports()
    for operation in OPERATIONS.values():
        operation.request_model()
        operation.reply_model()
        operation.handler_function()
    for name in PRELOADED_MODULES:
        importlib.import_module(name)
    for path in PRELOADED_CALLS:
        module, _, function = path.partition(":")
        getattr(importlib.import_module(module), function)()


class ForkServer:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.children: dict[int, int] = {}  # worker pid -> the uid it runs as

    def serve_forever(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        while True:
            if selector.select(REAP_EVERY_SECONDS):
                try:
                    connection, _ = self.listener.accept()
                except OSError:
                    continue  # the instance gave up before it was accepted
                with connection:
                    try:
                        self.answer(connection)
                    except Exception as exc:  # one request's failure never stops the server
                        logger.warning("an egress worker request failed", extra={"error_type": type(exc).__name__})
            self.reap()

    def answer(self, connection: socket.socket) -> None:
        """Forks a worker for the connected instance, or refuses. The server never takes a descriptor from an
        instance: it makes the worker's pipes itself and sends the instance their other ends."""
        connection.settimeout(REQUEST_TIMEOUT_SECONDS)
        try:
            # No room for descriptors: any sent with the request (possible only where the kernel has no
            # SO_PASSRIGHTS, see `listening_socket`) are discarded by the kernel, never installed here.
            message, _, flags, _ = connection.recvmsg(MAX_REQUEST_BYTES)
        except OSError as exc:  # the instance went away or sent nothing in time: nothing to answer
            logger.warning("an egress worker request failed", extra={"error_type": type(exc).__name__})
            return
        try:
            pid, uid, gid = self._peer(connection)
            idle_seconds = _request(message, flags)
            if sum(1 for owner in self.children.values() if owner == uid) >= MAX_WORKERS_PER_USER:
                raise Refused("too_many_workers")
            pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(DESCRIPTORS)]  # the worker's stdin, stdout, stderr
        except Refused as refused:
            with contextlib.suppress(OSError):
                connection.send(json.dumps({"error": str(refused)}).encode())
            return
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        try:
            child = self._fork(theirs, uid, gid, idle_seconds)
        except OSError:
            _close(theirs + ours)
            with contextlib.suppress(OSError):
                connection.send(json.dumps({"error": "busy"}).encode())  # out of memory or processes
            return
        _close(theirs)
        try:
            # No race: the child stays a zombie, its pid unused, until reap() collects it (SIGCHLD is at its
            # default, set by main()).
            pidfd = os.pidfd_open(child)
            try:
                socket.send_fds(connection, [json.dumps({"pid": child}).encode()], [*ours, pidfd])
            finally:
                os.close(pidfd)
        except OSError:
            # The instance is gone: the worker reads the end of its stdin at once and exits.
            logger.warning("an egress worker was forked for an instance that went away", extra={"worker_pid": child})
            return
        finally:
            _close(ours)
        logger.info("forked an egress worker", extra={"peer_pid": pid, "worker_pid": child})

    @staticmethod
    def _peer(connection: socket.socket) -> tuple[int, int, int]:
        """The connected process's pid, uid and gid, as the kernel recorded them at its connect (struct ucred)."""
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
        pid, uid, gid = UCRED.unpack(credentials)
        if os.geteuid() != 0 and (uid, gid) != (os.geteuid(), os.getegid()):
            raise Refused("other_user")  # only root can fork a worker for another user or group
        return pid, uid, gid

    def _fork(self, descriptors: list[int], uid: int, gid: int, idle_seconds: float) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            code = 70
            try:
                self._become_worker(descriptors, uid, gid)
                worker.lower_priority()
                worker.run(idle_seconds)
                code = 0
            except BaseException:
                if os.geteuid() != 0:  # only once it is the instance's user may it write on the stderr it got
                    logger.exception("a forked egress worker failed")
            finally:
                os._exit(code)
        self.children[child] = uid
        return child

    def _become_worker(self, descriptors: list[int], uid: int, gid: int) -> None:
        """In the child, before anything of the worker runs: the instance's user first, then its streams."""
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        self.listener.close()
        os.setsid()
        if os.geteuid() == 0:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
                raise PermissionError("the switch to the instance's user did not take")
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        # Not left to the kernel's default for a process that switched users (fs.suid_dumpable): no ptrace, no
        # /proc/<pid>/mem, maps or environ, and no core dump, by anyone but root. The worker holds exchange keys.
        _prctl(PR_SET_DUMPABLE, 0)
        _prctl(PR_SET_NAME, WORKER_NAME)
        # Above the standard streams first, so that no dup2 below overwrites a descriptor still to be moved.
        moved = [fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, DESCRIPTORS) for descriptor in descriptors]
        for target, descriptor in enumerate(moved):
            os.dup2(descriptor, target)  # inheritable, as a started process's standard streams are
        os.closerange(DESCRIPTORS, os.sysconf("SC_OPEN_MAX"))
        os.chdir("/")
        os.umask(0o077)

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


def listening_socket(path: Path) -> socket.socket:
    """The server's socket at `path`, rw for every user (who may reach it is the folder's business), refusing
    descriptors where the kernel can (SO_PASSRIGHTS, Linux 6.16): an instance's `sendmsg` with any fails."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    with contextlib.suppress(OSError):  # older kernels: what is sent is discarded unopened instead (answer())
        if os.uname().machine in GENERIC_SOCKET_OPTIONS:
            listener.setsockopt(socket.SOL_SOCKET, SO_PASSRIGHTS, 0)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # a previous server's; anything else in its place makes bind fail
    old_umask = os.umask(0o111)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_umask)
    listener.listen(64)
    return listener


def _close(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.close(descriptor)


def _prctl(option: int, value: int | bytes) -> None:
    """prctl(2) with one argument; OSError when it fails. PR_SET_NO_NEW_PRIVS: nothing the worker could exec
    (it execs nothing) gains privileges again through setuid files or file capabilities."""
    libc = ctypes.CDLL(None, use_errno=True)
    argument = ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_ulong(value)
    if libc.prctl(option, argument, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)):
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _request(message: bytes, flags: int) -> float:
    """The idle time the request asks for; Refused unless it is exactly what an instance sends."""
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        raise Refused("malformed_request")  # longer than any request, or with descriptors attached
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
    """`python -m tallyhold.egress.forkserver SOCKET` binds SOCKET itself; `--listen-fd N` serves a socket bound
    and listening already (the local backend's launcher binds it before it narrows the mount namespace)."""
    arguments = sys.argv[1:]
    if not (len(arguments) == 1 or (len(arguments) == 2 and arguments[0] == "--listen-fd")):
        raise SystemExit("usage: python -m tallyhold.egress.forkserver SOCKET | --listen-fd N")
    clean_environment()  # first: the socket passed in must still be inheritable for the re-execution
    listener = None
    if len(arguments) == 2:
        listener = socket.socket(fileno=int(arguments[1]))
        listener.set_inheritable(False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by SIGTERM only, never half-way through a fork
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # workers stay zombies until reaped: their pids never reused
    configure_logging("INFO")
    preload()
    threads = len(os.listdir("/proc/self/task"))  # native threads too, not only Python's
    if threads != 1 or threading.active_count() != 1:
        raise SystemExit("error: a preloaded module started a thread; forking would copy it half-done")
    if listener is None:
        listener = listening_socket(Path(arguments[0]))
    logger.info("egress fork server ready")
    ForkServer(listener).serve_forever()


if __name__ == "__main__":
    main()
