"""The egress worker boundary: same answers in a worker process as in-process, no instance secrets in the
worker's environment, idle exit, and recovery when a worker dies."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Literal

import pytest
from prometheus_client import REGISTRY

from tallyhold.egress.builtin import EchoReply, EchoRequest
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.egress.worker import WORKER_NICENESS

# A made-up database password (a URL holding one is what these tests handle); not a credential of anything.
FAKE_PASSWORD = "very-secret-pw"

CONFIG = EgressConfig(customer_id="t_00aa", log_level="WARNING")


@pytest.mark.parametrize("mode", ["subprocess", "inprocess"])
async def test_round_trip_and_errors(mode: Literal["subprocess", "inprocess"]) -> None:
    client = EgressClient(CONFIG, mode=mode)
    try:
        replies = await asyncio.gather(
            *(client.call("egress.echo", EchoRequest(text=str(i)), EchoReply) for i in range(20))
        )
        assert [r.text for r in replies] == [str(i) for i in range(20)]
        with pytest.raises(EgressError) as caught:
            await client.call("egress.echo", EchoRequest(text="x", fail_with="rate_limited"), EchoReply)
        assert caught.value.code == "rate_limited"
        assert caught.value.transient
        with pytest.raises(EgressError) as unknown:
            await client.call("no.such.op", EchoRequest(text="x"), EchoReply)
        assert unknown.value.code == "unknown_operation"
    finally:
        await client.aclose()


async def test_worker_runs_in_another_process_without_instance_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLYHOLD_DATABASE_URL", f"postgresql://app:{FAKE_PASSWORD}@db/x")
    monkeypatch.setenv("TALLYHOLD_VAULT_TOKEN", "hvs.super-secret-token")
    client = EgressClient(CONFIG)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        assert reply.pid != os.getpid()
        environ = Path(f"/proc/{reply.pid}/environ").read_bytes()
        assert b"TALLYHOLD_" not in environ
        assert b"very-secret-pw" not in environ
    finally:
        await client.aclose()


async def test_worker_runs_at_a_lower_priority_than_the_instance() -> None:
    """The worker's CPU must not delay the instance's requests on a small host: a higher nice value and the
    batch policy, whose wake-ups never preempt the instance (nice 10 alone still did)."""
    client = EgressClient(CONFIG)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        lowered = min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS)  # 19: the lowest priority there is
        assert os.getpriority(os.PRIO_PROCESS, reply.pid) == lowered
        assert os.sched_getscheduler(reply.pid) == os.SCHED_BATCH
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the instance itself is left as it was
    finally:
        await client.aclose()


def worker_starts() -> float:
    return REGISTRY.get_sample_value("tallyhold_egress_worker_starts_total") or 0.0


async def test_idle_worker_exits_and_is_replaced() -> None:
    client = EgressClient(CONFIG, idle_seconds=1)
    starts = worker_starts()
    try:
        first = await client.call("egress.echo", EchoRequest(text="a"), EchoReply)
        deadline = asyncio.get_running_loop().time() + 15
        while client.worker_pid is not None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        assert client.worker_pid is None, "an idle worker gives its memory back"
        second = await client.call("egress.echo", EchoRequest(text="b"), EchoReply)
        assert second.pid != first.pid
        assert client.workers_started == 2
        assert worker_starts() == starts + 2, "every start is counted for the operator"
    finally:
        await client.aclose()


async def test_killed_worker_fails_calls_as_transient_then_recovers() -> None:
    client = EgressClient(CONFIG)
    try:
        pid = (await client.call("egress.echo", EchoRequest(text="a"), EchoReply)).pid
        os.kill(pid, signal.SIGKILL)
        outcome: list[str] = []
        for _ in range(3):
            try:
                reply = await client.call("egress.echo", EchoRequest(text="b"), EchoReply)
            except EgressError as exc:
                outcome.append(exc.code if exc.transient else f"PERMANENT {exc.code}")
            else:
                outcome.append("ok")
                assert reply.pid != pid
                break
        assert outcome[-1] == "ok"
        assert not [code for code in outcome if code.startswith("PERMANENT")], "a dead worker is a transient fault"
    finally:
        await client.aclose()


async def test_a_call_racing_the_idle_exit_is_answered() -> None:
    """A worker with no idle time retires as soon as it has nothing to do, so every call below is written while
    the worker is deciding to go: each must still be answered (by it, or by its successor), never be lost as
    `egress_worker_unavailable`."""
    client = EgressClient(CONFIG, idle_seconds=0)
    try:
        for i in range(5):
            reply = await client.call("egress.echo", EchoRequest(text=str(i)), EchoReply)
            assert reply.text == str(i)
        replies = await asyncio.gather(
            *(client.call("egress.echo", EchoRequest(text=str(i)), EchoReply) for i in range(10))
        )
        assert [r.text for r in replies] == [str(i) for i in range(10)]
    finally:
        await client.aclose()


async def test_a_module_planted_in_the_working_directory_is_never_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker runs `python -m`, which would put its working directory (the instance's, which the instance and
    the worker can write) first on the module path: a planted `json.py` would run as code of the worker at its
    next start. It starts with `-P`, so the standard library's `json` is the one imported."""
    marker = tmp_path / "planted-code-ran"
    (tmp_path / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path)
    client = EgressClient(CONFIG)
    try:
        reply = await client.call("egress.echo", EchoRequest(text="hi"), EchoReply)
        assert reply.text == "hi"
    finally:
        await client.aclose()
    assert not marker.exists()
