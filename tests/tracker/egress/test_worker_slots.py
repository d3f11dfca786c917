"""The host-wide bound on egress workers alive at once (egress/slots.py): real worker processes of several
clients (one per instance) sharing one folder of slot files, real `flock`s, another process holding slots."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tallyhold.egress.builtin import EchoReply, EchoRequest
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.egress.slots import SlotsBusy, WorkerSlots
from tests.fixtures.processes import gone

CONFIG = EgressConfig(customer_id="t_00ab", log_level="WARNING")
LONG_WAIT = 120.0  # a fail-safe for the test, never reached when the bound works


def slot_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "slots"
    folder.mkdir()
    for number in range(count):
        (folder / f"slot-{number:03d}").touch(mode=0o644)
    return folder


def slot_waits(outcome: str) -> float:
    return REGISTRY.get_sample_value("tallyhold_egress_worker_slot_waits_total", {"outcome": outcome}) or 0.0


@asynccontextmanager
async def one_slot_held(tmp_path: Path, wait_seconds: float) -> AsyncIterator[EgressClient]:
    """One slot, held by another instance's idle worker; yields a second instance's client, which must wait."""
    slots = WorkerSlots(slot_folder(tmp_path, 1), wait_seconds=wait_seconds)
    holding = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    waiting = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    try:
        await holding.call("egress.echo", EchoRequest(text="a"), EchoReply)  # its worker lives on, idle
        yield waiting
        await holding.aclose()  # its worker exits: the slot is free again
        reply = await waiting.call("egress.echo", EchoRequest(text="b"), EchoReply)
        assert reply.text == "b"
    finally:
        await holding.aclose()
        await waiting.aclose()


async def test_a_slot_is_taken_once_and_is_free_again_when_released(tmp_path: Path) -> None:
    slots = WorkerSlots(slot_folder(tmp_path, 2), wait_seconds=1)
    first, second = await slots.take(), await slots.take()
    assert first.name != second.name
    with pytest.raises(SlotsBusy):
        await slots.take()
    second.release()
    second.release()  # idempotent: never closes a descriptor twice
    third = await slots.take()
    assert third.name == second.name
    first.release()
    third.release()


async def test_slots_held_by_another_process_are_taken_and_come_back_when_it_dies(tmp_path: Path) -> None:
    """Another instance is another process: its locks count, and the kernel frees them when it dies (even by
    SIGKILL), so a crashed instance never keeps a slot."""
    folder = slot_folder(tmp_path, 2)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import fcntl, os, sys
                held = [os.open(path, os.O_RDONLY) for path in sys.argv[1:]]
                for descriptor in held:
                    fcntl.flock(descriptor, fcntl.LOCK_EX)
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
            *(str(folder / name) for name in ("slot-000", "slot-001")),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        slots = WorkerSlots(folder, wait_seconds=1)
        with pytest.raises(SlotsBusy):
            await slots.take()
        holder.kill()
        holder.wait(30)
        slot = await slots.take()
        slot.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)


async def test_a_link_in_the_slot_folder_is_never_locked(tmp_path: Path) -> None:
    folder = tmp_path / "slots"
    folder.mkdir()
    target = tmp_path / "elsewhere"
    target.touch()
    (folder / "slot-000").symlink_to(target)
    with pytest.raises(SlotsBusy):
        await WorkerSlots(folder, wait_seconds=1).take()


async def test_no_slot_folder_or_no_slot_fails_at_once(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "missing", tmp_path / "empty"):
        with pytest.raises(SlotsBusy):
            await WorkerSlots(folder, wait_seconds=LONG_WAIT).take()  # nothing to wait for: no wait


async def test_instances_past_the_bound_wait_their_turn_and_all_get_answers(tmp_path: Path) -> None:
    """Five instances, two slots: never more than two workers alive at once, and every call answered."""
    slots = WorkerSlots(slot_folder(tmp_path, 2), wait_seconds=LONG_WAIT)
    clients = [EgressClient(CONFIG, idle_seconds=1, slots=slots) for _ in range(5)]
    most_alive = 0
    taken_before = slot_waits("taken")

    async def watch() -> None:
        nonlocal most_alive
        while True:
            alive = {client.worker_pid for client in clients} - {None}
            most_alive = max(most_alive, len(alive))
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    try:
        replies = await asyncio.gather(
            *(client.call("egress.echo", EchoRequest(text=str(i)), EchoReply) for i, client in enumerate(clients))
        )
    finally:
        watcher.cancel()
        for client in clients:
            await client.aclose()
    assert [reply.text for reply in replies] == [str(i) for i in range(5)]
    assert len({reply.pid for reply in replies}) == 5  # each instance's own worker
    assert most_alive == 2
    assert slot_waits("taken") - taken_before >= 3  # the three beyond the bound waited for a slot


async def test_a_start_that_finds_no_free_slot_in_time_fails_as_transient(tmp_path: Path) -> None:
    busy_before = slot_waits("busy")
    async with one_slot_held(tmp_path, wait_seconds=1) as waiting:
        with pytest.raises(EgressError) as caught:
            await waiting.call("egress.echo", EchoRequest(text="b"), EchoReply)
        assert caught.value.code == "egress_worker_unavailable"
        assert caught.value.transient
        assert caught.value.failure.retry_after == 1
        assert waiting.worker_pid is None  # no worker was started beyond the bound
        assert slot_waits("busy") - busy_before == 1


async def test_the_slot_is_released_when_the_worker_dies(tmp_path: Path) -> None:
    slots = WorkerSlots(slot_folder(tmp_path, 1), wait_seconds=LONG_WAIT)
    client = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    other = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    try:
        first = await client.call("egress.echo", EchoRequest(text="a"), EchoReply)
        os.kill(first.pid, 9)  # a worker killed (the OOM killer, an operator): its instance still lives
        reply = await other.call("egress.echo", EchoRequest(text="b"), EchoReply)
        assert reply.pid != first.pid
    finally:
        await client.aclose()
        await other.aclose()


async def test_a_fifo_or_a_folder_in_place_of_a_slot_is_never_locked_and_never_blocks(tmp_path: Path) -> None:
    folder = tmp_path / "slots"
    folder.mkdir()
    os.mkfifo(folder / "slot-000")  # opened without O_NONBLOCK, this would block until a writer came: forever
    (folder / "slot-001").mkdir()  # flock accepts a directory: it would be one more slot
    with pytest.raises(SlotsBusy):
        await WorkerSlots(folder, wait_seconds=1).take()


async def test_calls_queued_behind_a_failed_wait_fail_at_once_rather_than_wait_again(tmp_path: Path) -> None:
    """A key check queued behind a sync's failed wait must not wait a second time (a proxy gives up at 60 s)."""
    busy_before = slot_waits("busy")
    async with one_slot_held(tmp_path, wait_seconds=2) as waiting:
        outcomes = await asyncio.gather(
            *(waiting.call("egress.echo", EchoRequest(text=str(i)), EchoReply) for i in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(o, EgressError) and o.code == "egress_worker_unavailable" for o in outcomes)
        assert slot_waits("busy") - busy_before == 1  # one wait, the two queued behind it failed without one


def worker_of(client: EgressClient) -> int | None:
    return client.worker_pid


async def exited(pid: int) -> bool:
    """Whether the process is gone within 20 s: well before the 60 s these workers would idle for."""
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        if gone(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_released_worker_exits_at_once_and_gives_its_slot_back(tmp_path: Path) -> None:
    """The end of an instance's sync cycle (`release`): its worker, which would otherwise idle for a minute
    holding the host's only slot, exits, and another instance's worker takes the slot; the released instance's
    next call starts a worker of its own again. A worker with a call in flight is in use: it stays."""
    slots = WorkerSlots(slot_folder(tmp_path, 1), wait_seconds=LONG_WAIT)
    first = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    other = EgressClient(CONFIG, idle_seconds=60, slots=slots)
    try:
        started = await first.call("egress.echo", EchoRequest(text="a"), EchoReply)
        sent = first.call("egress.echo", EchoRequest(text="b"), EchoReply)
        in_flight, _ = await asyncio.gather(sent, first.release())
        assert (in_flight.text, in_flight.pid) == ("b", started.pid)
        assert worker_of(first) == started.pid, "released while in use: kept"
        await first.release()
        assert worker_of(first) is None
        assert await exited(started.pid)

        reply = await other.call("egress.echo", EchoRequest(text="c"), EchoReply)
        assert reply.pid != started.pid
        await other.release()
        again = await first.call("egress.echo", EchoRequest(text="d"), EchoReply)
        assert again.text == "d"
        assert again.pid not in {started.pid, reply.pid}
    finally:
        await first.aclose()
        await other.aclose()
