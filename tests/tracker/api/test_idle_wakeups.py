"""An idle instance sleeps: a host runs hundreds of them, and every wake-up of one that has nothing to do costs
the host CPU (before these changes an idle `tallyhold serve` woke ~15 times a second: uvicorn's 0.1 s tick,
the event-loop probe's 0.1 s timer and the metrics thread's 0.5 s look for a shutdown).

Wake-ups are counted, not timed: a thread's voluntary context switches (`/proc/<pid>/task/<tid>/status`) are
the times it went to sleep waiting for something."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path
from types import FrameType

import httpx
import psutil
import pytest
import uvicorn

from tallyhold.api.server import Server
from tallyhold.metrics import start_metrics_server
from tallyhold.settings import Settings
from tallyhold_provision.local.ports import free_port
from tests.fixtures.platform import Tenant
from tests.fixtures.serve import poll, served_settings

# Start-up's own work done: the scheduler's first reconcile and its first prices job (within 5 s of the start),
# the first Vault login; longer on a loaded machine.
SETTLE_SECONDS = 8.0
COUNT_SECONDS = 6.0


def _wake_ups(task: Path) -> int:
    for line in (task / "status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches in {task}/status")


def _process_wake_ups(pid: int) -> int:
    return sum(_wake_ups(task) for task in Path(f"/proc/{pid}/task").iterdir())


@pytest.fixture(scope="module")
def settings(tenant: Tenant) -> Settings:
    # The scheduler on (its jobs sleep until due) and a metrics port: everything an operator's instance runs.
    return served_settings(tenant, SYNC_SCHEDULER=True, METRICS_PORT=free_port())


def _serve_process() -> psutil.Process:
    found = [child for child in psutil.Process().children() if child.cmdline()[-2:] == ["tallyhold.cli", "serve"]]
    assert len(found) == 1, f"expected one `tallyhold serve` child, found {[c.cmdline() for c in found]}"
    return found[0]


async def test_an_idle_instance_wakes_about_twice_a_second(served: str, settings: Settings) -> None:
    async with httpx.AsyncClient() as client:
        metrics = await client.get(f"http://{settings.http.metrics_host}:{settings.http.metrics_port}/metrics")
    assert "tallyhold_event_loop_lag_seconds_count" in metrics.text  # the probe and the metrics thread run
    pid = _serve_process().pid
    await asyncio.sleep(SETTLE_SECONDS)
    before = _process_wake_ups(pid)
    await asyncio.sleep(COUNT_SECONDS)
    woken = _process_wake_ups(pid) - before
    # Expected: uvicorn's tick and the loop probe once a second each (often together), the scheduler's
    # reconcile once a minute; nothing else. Before: ~85 in these 6 s.
    assert woken <= 4 * COUNT_SECONDS, f"an idle instance woke {woken} times in {COUNT_SECONDS:g} s"


def test_the_metrics_thread_serves_and_otherwise_sleeps() -> None:
    port = free_port()
    start_metrics_server("127.0.0.1", port)
    assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
    (serving,) = [t for t in threading.enumerate() if t.name == "tallyhold-metrics" and t.native_id is not None]
    task = Path(f"/proc/self/task/{serving.native_id}")
    before = _wake_ups(task)
    threading.Event().wait(COUNT_SECONDS / 2)
    # prometheus_client's own server looks for a shutdown every 0.5 s: 6 wake-ups in these 3 s.
    assert _wake_ups(task) - before <= 1
    assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200  # still serving after its sleep


def test_the_metrics_server_listens_on_ipv6_too() -> None:
    port = free_port()
    start_metrics_server("::1", port)
    assert httpx.get(f"http://[::1]:{port}/metrics").status_code == 200


async def _nothing(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request is sent")


async def test_a_stop_signal_ends_the_server_at_once_not_at_its_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tick is an hour here: only `handle_exit`'s own wake-up can end the server within the test."""
    monkeypatch.setattr(Server, "tick_seconds", 3600.0)
    re_raised: list[int] = []

    def record(sig: int, frame: FrameType | None) -> None:
        re_raised.append(sig)

    # uvicorn restores the handler it found once it stops and raises the signal again for it: this one.
    previous = signal.signal(signal.SIGTERM, record)
    try:
        config = uvicorn.Config(_nothing, host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning")
        server = Server(config)
        serving = asyncio.create_task(server.serve())

        async def started() -> bool:
            return server.started

        await poll(started, "the server to start")
        os.kill(os.getpid(), signal.SIGTERM)  # through uvicorn's own signal handler
        await asyncio.wait_for(serving, 30)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert re_raised == [signal.SIGTERM]
