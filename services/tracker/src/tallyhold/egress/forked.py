"""An egress worker forked by the host's fork server (tallyhold/egress/forkserver.py), seen by its instance as a
started one is: its pid, stdin and stdout as asyncio streams, `wait()` and `kill()`.

The instance makes the two pipes, passes the worker's ends to the server with its own stderr, and keeps the
others; the server answers with the worker's pid and a pidfd. The worker is not the instance's child, so its
exit status is the server's to collect: the instance learns that it exited (the pidfd turns readable) and
records `returncode` as `EXITED`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path

REPLY_TIMEOUT_SECONDS = 5.0
MAX_REPLY_BYTES = 256
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
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


async def fork_worker(server: Path, idle_seconds: float, *, limit: int) -> ForkedWorker:
    """A worker forked for this instance, with its first line still to be written (the config)."""
    loop = asyncio.get_running_loop()
    stdin_read, stdin_write = os.pipe2(os.O_CLOEXEC)
    stdout_read, stdout_write = os.pipe2(os.O_CLOEXEC)
    ours, theirs = [stdin_write, stdout_read], [stdin_read, stdout_write]
    try:
        pid, pidfd = await _ask(server, idle_seconds, [*theirs, 2])
    except BaseException:
        for descriptor in ours + theirs:
            os.close(descriptor)
        raise
    for descriptor in theirs:
        os.close(descriptor)  # the worker holds them now: its exit is the pipes' end
    reader = asyncio.StreamReader(limit=limit)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(stdout_read, "rb", 0))
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), os.fdopen(stdin_write, "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return ForkedWorker(pid, pidfd, writer, reader)


async def _ask(server: Path, idle_seconds: float, descriptors: list[int]) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC) as connection:
        connection.setblocking(False)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT_SECONDS):
                await loop.sock_connect(connection, str(server))
                socket.send_fds(connection, [json.dumps({"idle_seconds": idle_seconds}).encode()], descriptors)
                await _readable(connection)
                message, received, flags, _ = socket.recv_fds(connection, MAX_REPLY_BYTES, 1, socket.MSG_CMSG_CLOEXEC)
        except (OSError, TimeoutError) as exc:
            raise ForkServerUnavailable(type(exc).__name__) from None
    try:
        reply = json.loads(message) if message else {}
    except ValueError:
        reply = {}
    pid = reply.get("pid") if isinstance(reply, dict) else None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(received) != 1 or not isinstance(pid, int):
        for descriptor in received:
            os.close(descriptor)
        reason = reply.get("error") if isinstance(reply, dict) else None
        raise ForkServerUnavailable(reason if isinstance(reason, str) else "malformed_reply")
    return pid, received[0]


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
