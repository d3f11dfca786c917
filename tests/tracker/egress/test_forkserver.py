"""The host's egress worker fork server (egress/forkserver.py): a real server process, real forked workers, real
clients; requests a hostile instance could send, written on the socket by hand."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from prometheus_client import REGISTRY

from tallyhold.egress.builtin import EchoReply, EchoRequest
from tallyhold.egress.client import EgressClient
from tallyhold.egress.forked import EXITED
from tallyhold.egress.forkserver import MAX_WORKERS_PER_USER
from tallyhold.egress.protocol import EgressConfig, EgressError
from tests.fixtures.processes import gone

CONFIG = EgressConfig(customer_id="t_00ab", log_level="WARNING")
PLANTED = "TALLYHOLD_PROVISIONER_VAULT_TOKEN"  # what an operator's environment may hold; no worker may see it


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Path, psutil.Process]]:
    # Not under pytest's temporary folder, which is root's alone: the unprivileged client below must reach it.
    folder = Path(tempfile.mkdtemp(prefix="th-forkserver-"))
    folder.chmod(0o755)
    path = folder / "forkserver.sock"
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "tallyhold.egress.forkserver", str(path)],
        env={**os.environ, PLANTED: "hvs.planted-operator-token"},
    )
    try:
        while not path.exists():
            assert process.poll() is None, "the fork server exited at start"
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(0.1)
        yield path, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(folder)


def forks(result: str) -> float:
    return REGISTRY.get_sample_value("tallyhold_egress_worker_forks_total", {"result": result}) or 0.0


def _socket_targets(process: psutil.Process) -> set[str]:
    return {os.readlink(f"/proc/{process.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{process.pid}/fd")}


def _kinds(process: psutil.Process) -> list[str]:
    """What each descriptor but stderr is (pipe, socket, ...), sorted. A started worker's stderr is its
    instance's (here pytest's capture file); a forked one's a pipe its instance copies into its own."""
    fds = [fd for fd in os.listdir(f"/proc/{process.pid}/fd") if fd != "2"]
    return sorted(os.readlink(f"/proc/{process.pid}/fd/{fd}").split(":")[0] for fd in fds)


async def test_a_forked_worker_answers_and_keeps_nothing_of_the_server(server: tuple[Path, psutil.Process]) -> None:
    path, process = server
    before = forks("forked")
    client = EgressClient(CONFIG, idle_seconds=60, forkserver=path)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        assert reply.text == "hi"
        assert client.worker_pid == reply.pid
        assert forks("forked") == before + 1
        worker = psutil.Process(reply.pid)
        assert worker.ppid() == process.pid  # forked by the server, not started by this process
        assert worker.nice() == 10  # the same lower priority as a started worker
        assert worker.name() == "th-egress-fork"  # its command line is the server's: its name tells them apart
        environment = Path(f"/proc/{reply.pid}/environ").read_bytes()
        assert PLANTED.encode() not in environment
        assert b"planted" not in environment
        shared = _socket_targets(worker) & {t for t in _socket_targets(process) if t.startswith("socket:")}
        assert shared == set()  # not the server's listening socket, nor any other of its sockets
        # Open: its three streams and what its event loop opened, as in a worker this process starts itself.
        started = EgressClient(CONFIG, idle_seconds=60)
        try:
            own = await started.call("egress.echo", EchoRequest(text="own"), EchoReply)
            assert _kinds(worker) == _kinds(psutil.Process(own.pid))
        finally:
            await started.aclose()
        assert os.getsid(reply.pid) == reply.pid  # a session of its own: stopping the server stops no worker
    finally:
        await client.aclose()
    assert gone(reply.pid)


async def test_a_worker_runs_as_the_user_that_connected(server: tuple[Path, psutil.Process]) -> None:
    if os.geteuid() != 0:
        pytest.fail("the fork server's switch of user needs these tests to run as root, as the local backend's does")
    path, _ = server
    nobody = pwd.getpwnam("nobody")
    probe = textwrap.dedent(
        f"""
        import asyncio, json, os, pathlib
        from tallyhold.egress.builtin import EchoReply, EchoRequest
        from tallyhold.egress.client import EgressClient
        from tallyhold.egress.protocol import EgressConfig, EgressError

        async def main():
            os.setgroups([])  # as an instance of the local backend runs: its own user, no other group
            os.setresgid({nobody.pw_gid}, {nobody.pw_gid}, {nobody.pw_gid})
            os.setresuid({nobody.pw_uid}, {nobody.pw_uid}, {nobody.pw_uid})
            client = EgressClient(EgressConfig(customer_id="t_00cd"), forkserver=pathlib.Path({str(path)!r}))
            reply = await client.call("egress.echo", EchoRequest(text="x"), EchoReply)
            status = pathlib.Path(f"/proc/{{reply.pid}}/status").read_text().splitlines()
            parent = int(pathlib.Path(f"/proc/{{reply.pid}}/stat").read_text().rsplit(")", 1)[1].split()[1])
            try:  # its own user may not read it: the worker is not dumpable, though it runs as that user
                pathlib.Path(f"/proc/{{reply.pid}}/environ").read_bytes()
                environ_readable = True
            except PermissionError:
                environ_readable = False
            print(json.dumps({{"status": status, "started_here": parent == os.getpid(),
                               "environ_readable": environ_readable}}))
            await client.aclose()

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-P", "-c", probe],  # starts as root (this Python may sit in root's home), then drops
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    answer = json.loads(done.stdout.splitlines()[-1])
    fields = dict(line.split(":", 1) for line in answer["status"])
    assert answer["started_here"] is False
    assert answer["environ_readable"] is False
    assert fields["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert fields["Gid"].split() == [str(nobody.pw_gid)] * 4
    assert fields["Groups"].strip() == ""
    assert fields["NoNewPrivs"].strip() == "1"


async def test_no_server_means_the_instance_starts_its_worker(tmp_path: Path) -> None:
    before = forks("unavailable")
    client = EgressClient(CONFIG, idle_seconds=60, forkserver=tmp_path / "nobody-listens.sock")
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        assert psutil.Process(reply.pid).ppid() == os.getpid()
        assert forks("unavailable") == before + 1
    finally:
        await client.aclose()


REFUSED_BY_THE_KERNEL: dict[str, object] = {"error": "descriptors refused by the kernel (SO_PASSRIGHTS)"}


def _ask(path: Path, message: bytes, descriptors: list[int]) -> tuple[dict[str, object], list[int]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.settimeout(10)
        connection.connect(str(path))
        try:
            socket.send_fds(connection, [message], descriptors)
        except PermissionError:  # Linux 6.16+: the server's socket takes no descriptor at all
            assert descriptors
            return REFUSED_BY_THE_KERNEL, []
        reply, received, _, _ = socket.recv_fds(connection, 256, 4)
    return (json.loads(reply) if reply else {}), received


def _descriptor_count(process: psutil.Process) -> int:
    return len(os.listdir(f"/proc/{process.pid}/fd"))


@pytest.mark.parametrize(
    ("message", "pipes"),
    [
        (b'{"idle_seconds": 5}', 1),  # a valid request, with a descriptor attached
        (b'{"idle_seconds": 5}', 3),  # ... or three, as if it were the worker's streams
        (b"not json", 0),
        (b'{"idle_seconds": 0}', 0),
        (b'{"idle_seconds": 1e9}', 0),
        (b'{"idle_seconds": true}', 0),
        (b'["idle_seconds", 5]', 0),
        (b'{"idle_seconds": 5}' + b" " * 400, 0),  # longer than any request: truncated
    ],
)
def test_a_malformed_request_is_refused_and_leaves_nothing_open(
    server: tuple[Path, psutil.Process], message: bytes, pipes: int
) -> None:
    path, process = server
    ends = [os.pipe() for _ in range(pipes)]
    before = _descriptor_count(process)
    try:
        reply, received = _ask(path, message, [read for read, _ in ends])
        assert reply in ({"error": "malformed_request"}, REFUSED_BY_THE_KERNEL)
        assert received == []
    finally:
        for read, write in ends:
            os.close(read)
            os.close(write)
    # One request at a time, in order: once this one is answered, the one above is done with.
    assert _ask(path, b"not json", [])[0] == {"error": "malformed_request"}
    deadline = time.monotonic() + 10  # and the server closes this last connection right after its answer
    while _descriptor_count(process) != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _descriptor_count(process) == before


def test_a_descriptor_sent_to_the_server_never_reaches_it(server: tuple[Path, psutil.Process]) -> None:
    """The kernel discards what a request carries unopened: once this side closes its own copy of a pipe's write
    end, the read end sees the pipe's end at once, so nobody else holds that write end."""
    path, _ = server
    read, write = os.pipe()
    try:
        reply, _ = _ask(path, b'{"idle_seconds": 5}', [write])
        os.close(write)
        assert reply in ({"error": "malformed_request"}, REFUSED_BY_THE_KERNEL)
        assert os.read(read, 1) == b""
    finally:
        os.close(read)


def test_the_server_answers_with_the_workers_streams_and_a_pidfd(server: tuple[Path, psutil.Process]) -> None:
    path, process = server
    reply, received = _ask(path, b'{"idle_seconds": 5}', [])
    try:
        kinds = sorted(os.readlink(f"/proc/self/fd/{fd}").split(":")[0] for fd in received)
        assert kinds == ["anon_inode", "pipe", "pipe", "pipe"]  # stdin, stdout, stderr; the pidfd
        pid = reply["pid"]
        assert isinstance(pid, int)
        assert psutil.Process(pid).ppid() == process.pid
    finally:
        for descriptor in received:
            os.close(descriptor)  # its stdin closed before any config line: the worker exits
    deadline = time.monotonic() + 30
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)


def test_a_connection_that_sends_nothing_does_not_hold_the_server(server: tuple[Path, psutil.Process]) -> None:
    path, _ = server
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as silent:
        silent.connect(str(path))  # and never sends: the server drops it after its request timeout
        reply, _ = _ask(path, b"not json", [])
    assert reply == {"error": "malformed_request"}


async def test_one_user_gets_a_bounded_number_of_live_workers(server: tuple[Path, psutil.Process]) -> None:
    path, process = server
    clients = [EgressClient(CONFIG, idle_seconds=60, forkserver=path) for _ in range(MAX_WORKERS_PER_USER + 1)]
    before = forks("unavailable")
    try:
        pids = [(await c.call("egress.echo", EchoRequest(text="n"), EchoReply)).pid for c in clients]
        parents = [psutil.Process(pid).ppid() for pid in pids]
        assert parents.count(os.getpid()) == 1  # the last one, refused by the server, started here
        assert forks("unavailable") == before + 1
    finally:
        for client in clients:
            await client.aclose()
    while process.children():  # the server collects its exited workers at least once a second
        await asyncio.sleep(0.1)
    client = EgressClient(CONFIG, idle_seconds=60, forkserver=path)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="n"), EchoReply)
        assert psutil.Process(reply.pid).ppid() == process.pid  # only live workers count
    finally:
        await client.aclose()


async def test_a_forked_worker_can_be_killed_and_its_exit_is_seen(server: tuple[Path, psutil.Process]) -> None:
    path, _ = server
    client = EgressClient(CONFIG, idle_seconds=60, forkserver=path)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        process = client._process
        assert process is not None
        process.kill()
        assert await process.wait() == EXITED
        assert process.returncode == EXITED
        assert client.worker_pid is None
        again = await client.call("egress.echo", EchoRequest(text="again"), EchoReply)
        assert again.pid != reply.pid  # the next call has a new worker
    finally:
        await client.aclose()


async def test_a_forked_worker_that_dies_before_answering_sends_the_instance_back_to_its_own(
    server: tuple[Path, psutil.Process],
) -> None:
    """A worker the server forked but that cannot work (here: a configuration it refuses, so it exits before its
    first line) does not make every later call fail: the instance starts its own workers for a while."""
    path, _ = server
    broken = EgressConfig.model_construct(**{**CONFIG.model_dump(), "log_level": "NOT-A-LEVEL"})
    client = EgressClient(broken, idle_seconds=60, forkserver=path)
    try:
        with pytest.raises(EgressError):
            await client.call("egress.echo", EchoRequest(text="first"), EchoReply)
        client.config = CONFIG
        reply = await client.call("egress.echo", EchoRequest(text="second"), EchoReply)
        assert psutil.Process(reply.pid).ppid() == os.getpid()  # started here, not forked
    finally:
        await client.aclose()
