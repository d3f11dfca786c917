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
from tallyhold.egress.protocol import EgressConfig
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
    """What each descriptor is (pipe, socket, ...), sorted."""
    return sorted(target.split(":")[0] for target in _socket_targets(process))


async def test_a_forked_worker_answers_and_keeps_nothing_of_the_server(server: tuple[Path, psutil.Process]) -> None:
    path, process = server
    before = forks("forked")
    client = EgressClient(CONFIG, idle_seconds=60, forkserver=path)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        assert reply.text == "hi"
        assert reply.pid == client.worker_pid
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
    assert client.worker_pid is None
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
        from tallyhold.egress.protocol import EgressConfig

        async def main():
            os.setgroups([])  # as an instance of the local backend runs: its own user, no other group
            os.setresgid({nobody.pw_gid}, {nobody.pw_gid}, {nobody.pw_gid})
            os.setresuid({nobody.pw_uid}, {nobody.pw_uid}, {nobody.pw_uid})
            client = EgressClient(EgressConfig(customer_id="t_00cd"), forkserver=pathlib.Path({str(path)!r}))
            reply = await client.call("egress.echo", EchoRequest(text="x"), EchoReply)
            status = pathlib.Path(f"/proc/{{reply.pid}}/status").read_text().splitlines()
            parent = int(pathlib.Path(f"/proc/{{reply.pid}}/stat").read_text().rsplit(")", 1)[1].split()[1])
            print(json.dumps({{"status": status, "started_here": parent == os.getpid()}}))
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


def _ask(path: Path, message: bytes, descriptors: list[int]) -> tuple[dict[str, object], list[int]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.settimeout(10)
        connection.connect(str(path))
        socket.send_fds(connection, [message], descriptors)
        reply, received, _, _ = socket.recv_fds(connection, 256, 4)
    return (json.loads(reply) if reply else {}), received


def _descriptor_count(process: psutil.Process) -> int:
    return len(os.listdir(f"/proc/{process.pid}/fd"))


@pytest.mark.parametrize(
    ("message", "pipes"),
    [
        (b'{"idle_seconds": 5}', 2),  # a descriptor short
        (b'{"idle_seconds": 5}', 4),  # one too many
        (b"not json", 3),
        (b'{"idle_seconds": 0}', 3),
        (b'{"idle_seconds": 1e9}', 3),
        (b'{"idle_seconds": true}', 3),
        (b'["idle_seconds", 5]', 3),
        (b'{"idle_seconds": 5}' + b" " * 400, 3),  # longer than any request: truncated
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
        assert reply == {"error": "malformed_request"}
        assert received == []
    finally:
        for read, write in ends:
            os.close(read)
            os.close(write)
    # Every descriptor it was sent is closed before it answers; the connection itself right after.
    deadline = time.monotonic() + 10
    while _descriptor_count(process) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _descriptor_count(process) == before


def test_stdin_and_stdout_must_be_pipes(server: tuple[Path, psutil.Process], tmp_path: Path) -> None:
    path, _ = server
    with (tmp_path / "file").open("w") as file:
        read, write = os.pipe()
        try:
            reply, _ = _ask(path, b'{"idle_seconds": 5}', [file.fileno(), write, 2])
        finally:
            os.close(read)
            os.close(write)
    assert reply == {"error": "malformed_request"}


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
