"""The capacity bench's CPU ledger: each kind's CPU between two process-table snapshots, a reaped child's CPU
counted for its parent's children's kind without what it had used before the window, and "other" the host's busy
time the kinds do not explain, with the unclassified processes that used the most named."""

from __future__ import annotations

import os

from bench.cpu_ledger import PAGING, Ledger, Process, Snapshot, by_kind, snapshot

INSTANCE, WORKER, REAPED, POSTGRES, STRAY = 10, 11, 12, 20, 30


def _process(pid: int, ppid: int, name: str, own: float, reaped: float = 0.0) -> Process:
    return Process(pid=pid, created=1000.0 + pid, ppid=ppid, name=name, own=own, reaped=reaped)


def _shot(busy: float, wall: float, *processes: Process) -> Snapshot:
    return Snapshot(processes={(p.pid, p.created): p for p in processes}, busy=busy, wall=wall)


def _classify(process: Process) -> str | None:
    if process.pid == INSTANCE:
        return "instances"
    if process.ppid == INSTANCE:
        return "egress workers"
    return "Postgres" if process.name == "postgres" else None


def _ledger(before: Snapshot, after: Snapshot) -> Ledger:
    return by_kind(before, after, _classify, lambda kind: "egress workers" if kind == "instances" else None)


def test_each_kind_counts_what_its_processes_used_between_the_snapshots() -> None:
    before = _shot(
        100.0,
        50.0,
        _process(INSTANCE, 1, "python", own=4.0),
        _process(WORKER, INSTANCE, "python", own=1.0),
        _process(REAPED, INSTANCE, "python", own=0.5),  # exits in the window, reaped by the instance
        _process(POSTGRES, 1, "postgres", own=2.0, reaped=1.0),
        _process(STRAY, 1, "kworker", own=0.0),
    )
    after = _shot(
        110.0,  # 10 s of CPU in 5 s of wall: 2 cores busy
        55.0,
        _process(INSTANCE, 1, "python", own=5.0, reaped=2.0),  # REAPED used 2.0 in all, 1.5 of it in the window
        _process(WORKER, INSTANCE, "python", own=3.0),
        _process(13, INSTANCE, "python", own=1.0),  # started in the window
        _process(POSTGRES, 1, "postgres", own=3.0, reaped=2.0),
        _process(STRAY, 1, "kworker", own=0.5),
    )
    ledger = _ledger(before, after)
    assert ledger.cores["instances"] == 1.0 / 5
    assert ledger.cores["egress workers"] == (2.0 + 1.0 + 1.5) / 5
    assert ledger.cores["Postgres"] == (1.0 + 1.0) / 5
    assert abs(ledger.cores["other"] - (2.0 - (1.0 + 4.5 + 2.0) / 5)) < 1e-9
    assert ledger.top_others == {"kworker": 0.5 / 5}


def test_a_reused_pid_is_another_process() -> None:
    before = _shot(0.0, 0.0, _process(WORKER, INSTANCE, "python", own=9.0), _process(INSTANCE, 1, "python", 0.0))
    reused = Process(pid=WORKER, created=9999.0, ppid=INSTANCE, name="python", own=1.0, reaped=0.0)
    after = _shot(
        20.0, 10.0, reused, _process(INSTANCE, 1, "python", own=0.0, reaped=9.0)
    )  # the old one was reaped whole: 9.0, all of it before the window
    assert _ledger(before, after).cores["egress workers"] == 1.0 / 10


def test_a_snapshot_of_this_host_holds_this_process() -> None:
    shot = snapshot()
    assert any(p.pid == os.getpid() for p in shot.processes.values())
    assert shot.busy > 0
    assert shot.wall > 0
    assert set(shot.paging) == set(PAGING)


def test_paging_is_given_a_second() -> None:
    before = Snapshot({}, 0.0, 10.0, {"workingset_refault_file": 1000, "pgmajfault": 5, "pgpgin": 0})
    after = Snapshot({}, 0.0, 20.0, {"workingset_refault_file": 1000 + 2560, "pgmajfault": 25, "pgpgin": 20480})
    ledger = _ledger(before, after)
    assert ledger.refaults_mib == 2560 * 4 / 1024 / 10  # 4 KiB pages
    assert ledger.major_faults == 2.0
    assert ledger.disk_read_mib == 2.0
