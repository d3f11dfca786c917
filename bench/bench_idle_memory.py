"""Idle instance memory: one customer's `tallyhold serve`, made and started by the provisioner's `create` (local
backend: embedded Postgres, OpenBao, supervisord), with its scheduler on and no connection yet, measured from
outside 30 s after it answers: RSS and PSS (`/proc/<pid>/status` and `smaps_rollup`), its threads, and the
shared libraries' part of its RSS. Goal (issue 16): RSS ≤ 90 MiB. The README's "What an idle instance holds"
gives these figures.

Then, for TALLYHOLD_BENCH_IDLE_CPU_SECONDS more (20 by default), what the idle instance costs the host's CPU:
its CPU time per second and its wake-ups per second (voluntary context switches, by thread): on a host of 200
instances, 5 ms of CPU a second each is half a core spent on nothing.

Knob (environment): TALLYHOLD_BENCH_IDLE_SECONDS (how long after start-up to measure; 30 by default).
Everything it made is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import httpx
import psutil

from bench.world import remove_platform, temporary_folder
from tallyhold_provision.config import ProvisionerSettings
from tallyhold_provision.factory import build
from tallyhold_provision.local.platform import LocalPlatform

GOAL_RSS_MIB = 90.0
START_DEADLINE = 120.0


def _wait_healthy(url: str) -> None:
    limit = time.monotonic() + START_DEADLINE
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > limit:
            raise RuntimeError("the instance did not answer /healthz")
        time.sleep(0.2)


def _file_backed_rss_mib(pid: int) -> float:
    """The RSS of file-backed mappings (shared libraries, mostly): pages every instance shares."""
    return sum(m.rss for m in psutil.Process(pid).memory_maps() if m.path.startswith("/")) / 2**20


def _wake_ups(pid: int) -> dict[int, int]:
    """Voluntary context switches by thread id: each is the thread going to sleep, so each a wake-up after."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                counts[int(task.name)] = int(line.split()[1])
    return counts


def _cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU of the process's threads alive now (the scheduler's own count, not clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def _idle_cpu(pid: int, seconds: float) -> str:
    cpu_before, wakes_before = _cpu_ns(pid), _wake_ups(pid)
    time.sleep(seconds)
    cpu_after, wakes_after = _cpu_ns(pid), _wake_ups(pid)
    cpu = (cpu_after - cpu_before) / 1e6 / seconds
    by_thread = sorted(((wakes_after[tid] - wakes_before.get(tid, 0)) / seconds for tid in wakes_after), reverse=True)
    threads = ", ".join(f"{rate:.1f}" for rate in by_thread if rate >= 0.05) or "none"
    return (
        f"idle instance CPU: {cpu:.2f} ms a second ({cpu * 200 / 1000:.2f} cores for 200 such instances); "
        f"wake-ups {sum(by_thread):.1f} a second (by thread: {threads})"
    )


def main() -> None:
    idle_seconds = float(os.environ.get("TALLYHOLD_BENCH_IDLE_SECONDS", "30"))
    cpu_seconds = float(os.environ.get("TALLYHOLD_BENCH_IDLE_CPU_SECONDS", "20"))
    print(f"load {os.getloadavg()[0]:.2f}; measured {idle_seconds:.0f} s after start-up")
    with temporary_folder() as tmp:
        folder = Path(tmp)
        platform = LocalPlatform(folder / "state")
        provisioner = None
        try:
            platform.ensure_postgres()
            platform.ensure_openbao()
            provisioner = build(
                ProvisionerSettings(STATE_DIR=folder / "state"), environ={"TALLYHOLD_LOG_LEVEL": "WARNING"}
            )
            provisioner.vault()
            record = provisioner.create("idle-0000", backend="local").customer
            pid = platform.supervisor.pid(record.id)
            if record.url is None or pid is None:
                raise RuntimeError("the customer was not created and started")
            _wait_healthy(record.url)
            time.sleep(idle_seconds)
            process = psutil.Process(pid)
            memory = process.memory_full_info()
            rss, pss = memory.rss / 2**20, memory.pss / 2**20
            print(
                f"idle instance: RSS {rss:.1f} MiB, PSS {pss:.1f} MiB, shared libraries {_file_backed_rss_mib(pid):.1f}"
                f" MiB of the RSS, {process.num_threads()} threads (goal RSS ≤ {GOAL_RSS_MIB:.0f} MiB: "
                f"{'met' if rss <= GOAL_RSS_MIB else 'not met'})"
            )
            print(_idle_cpu(pid, cpu_seconds))
        finally:
            remove_platform(provisioner, platform)


if __name__ == "__main__":
    main()
