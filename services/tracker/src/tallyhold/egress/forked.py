"""An egress worker forked by the host's fork server (tallyhold/egress/forkserver.py), seen by its instance as a
started one is: its pid, stdin and stdout as asyncio streams, `wait()` and `kill()`.

The instance asks (`{"idle_seconds": n}`, nothing else); the server makes the worker's pipes, forks, and answers
with the worker's pid and four descriptors: the instance's ends of the worker's stdin, stdout and stderr (copied
into the instance's own stderr, as a started worker's go), and a pidfd of the worker. The worker is not the
instance's child, so its exit status is the server's to collect: the instance learns that it exited (the pidfd
turns readable) and records `returncode` as `EXITED`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import signal
import socket
from pathlib import Path

REPLY_TIMEOUT_SECONDS = 5.0
MAX_REPLY_BYTES = 256
DESCRIPTORS = 4  # the worker's stdin (write end), stdout and stderr (read ends), and its pidfd
RECEIVED = array.array("i")  # a descriptor's C type, for recvmsg's buffer
EXITED = 0  # the returncode recorded for a forked worker that exited (its real status is the server's)


class ForkServerUnavailable(Exception):
    """No worker from the fork server: it is not there, did not answer in time, or refused (the reason)."""


class ForkedWorker:
    def __init__(self, pid: int, pidfd: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdin: asyncio.StreamWriter | None = stdin
        self.stdout: asyncio.StreamReader | None = stdout
        self.returncode: int | None = None
        self._pidfd: int | None = pidfd
        self._exited = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(pidfd, self._on_exit)

    def _on_exit(self) -> None:
        pidfd, self._pidfd = self._pidfd, None
        if pidfd is None:
            return
        asyncio.get_running_loop().remove_reader(pidfd)
        os.close(pidfd)
        self.returncode = EXITED
        if not self._exited.done():
            self._exited.set_result(EXITED)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile, its exit not yet seen here
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


async def fork_worker(server: Path, idle_seconds: float, *, limit: int) -> ForkedWorker:
    """A worker forked for this instance, with its first line still to be written (the config)."""
    loop = asyncio.get_running_loop()
    pid, (stdin, stdout, stderr, pidfd) = await _ask(server, idle_seconds)
    files = [os.fdopen(stdin, "wb", 0), os.fdopen(stdout, "rb", 0), os.fdopen(stderr, "rb", 0)]
    transports: list[asyncio.BaseTransport] = []
    try:
        reader = asyncio.StreamReader(limit=limit)
        read, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), files[1])
        transports.append(read)
        write, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), files[0]
        )
        transports.append(write)
        log, _ = await loop.connect_read_pipe(_CopyToStderr, files[2])
        transports.append(log)
        return ForkedWorker(pid, pidfd, asyncio.StreamWriter(write, protocol, None, loop), reader)
    except BaseException:
        # Cancelled or failed half-way: no worker is left behind waiting on a stdin nobody will close.
        for transport in transports:
            transport.close()
        for file in files:
            file.close()
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.close(pidfd)
        raise


class _CopyToStderr(asyncio.Protocol):
    """The worker's log lines, into this instance's own stderr (its log), as a started worker's go."""

    def data_received(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(2, data)


async def _ask(server: Path, idle_seconds: float) -> tuple[int, list[int]]:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as connection:
        connection.setblocking(False)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_SECONDS):
                await loop.sock_connect(connection, str(server))
                await loop.sock_sendall(connection, json.dumps({"idle_seconds": idle_seconds}).encode())
                await _readable(connection)
                message, ancillary, flags, _ = connection.recvmsg(
                    MAX_REPLY_BYTES, socket.CMSG_SPACE(DESCRIPTORS * RECEIVED.itemsize), socket.MSG_CMSG_CLOEXEC
                )
        except (OSError, TimeoutError) as exc:
            raise ForkServerUnavailable(type(exc).__name__) from None
    received = _descriptors(ancillary)
    try:
        reply = json.loads(message) if message else {}
    except ValueError:
        reply = {}
    pid = reply.get("pid") if isinstance(reply, dict) else None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(received) != DESCRIPTORS or not isinstance(pid, int):
        for descriptor in received:
            os.close(descriptor)
        reason = reply.get("error") if isinstance(reply, dict) else None
        raise ForkServerUnavailable(reason if isinstance(reason, str) else "malformed_reply")
    return pid, received


def _descriptors(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """The descriptors of SCM_RIGHTS messages (recvmsg's own parse: `socket.recv_fds` drops its flags, and with
    them MSG_CMSG_CLOEXEC, before Python 3.12)."""
    descriptors = array.array(RECEIVED.typecode)
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            descriptors.frombytes(data[: len(data) - len(data) % descriptors.itemsize])
    return list(descriptors)


async def _readable(connection: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(connection.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(connection.fileno())
