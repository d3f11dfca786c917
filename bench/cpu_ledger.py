"""Where a host's CPU went over a window, by kind of process: two snapshots of the process table and of the host's
CPU counters, then each process's CPU between them; and how hard the page cache worked meanwhile (a host short
of memory drops file pages that its processes then read back from disk, at a cost in CPU that shows in theirs).

A process that exited inside the window is not in the second snapshot; its CPU is found in its parent's counters
of reaped children (Linux adds a child's user and system time, its own reaped children's included, to its parent
when the parent waits for it). So an instance's egress workers are counted in full: those alive at the end by
their own counters, those reaped meanwhile through the instance's. A process that exited unwaited for (reparented
and reaped by init) is lost to the kinds and shows up in "other": the host's busy time less every kind's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil


@dataclass(frozen=True)
class Process:
    pid: int
    created: float
    ppid: int
    name: str
    own: float  # user + system seconds of the process itself
    reaped: float  # user + system seconds of its children that exited and were waited for


# A process's kind; None: "other".
Classifier = Callable[[Process], str | None]


# /proc/vmstat counters of the page cache working against the CPU: file pages read back soon after the kernel
# dropped them (refaults, in pages), faults that waited for a read (major faults), and KiB read from disk.
PAGING = ("workingset_refault_file", "pgmajfault", "pgpgin")
PAGE_KIB = 4


@dataclass(frozen=True)
class Snapshot:
    processes: dict[tuple[int, float], Process]  # by (pid, creation time): a reused pid is another process
    busy: float  # seconds the host's CPUs were not idle (summed over CPUs)
    wall: float  # seconds since boot
    paging: dict[str, int] = field(default_factory=dict)  # the PAGING counters


def _paging() -> dict[str, int]:
    counters: dict[str, int] = {}
    with open("/proc/vmstat") as vmstat:
        for line in vmstat:
            name, _, value = line.partition(" ")
            if name in PAGING:
                counters[name] = int(value)
    return counters


def _host_busy() -> float:
    """Busy CPU seconds: every counter but idle and I/O wait, less guest time, which Linux already counts in
    user and nice."""
    times = psutil.cpu_times()
    guests = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0) - guests)


def snapshot() -> Snapshot:
    processes: dict[tuple[int, float], Process] = {}
    for process in psutil.process_iter(["ppid", "name", "cpu_times", "create_time"]):
        info = process.info
        times = info["cpu_times"]
        if times is None or info["create_time"] is None:  # gone or unreadable
            continue
        processes[(process.pid, info["create_time"])] = Process(
            pid=process.pid,
            created=info["create_time"],
            ppid=info["ppid"] or 0,
            name=info["name"] or "",
            own=times.user + times.system,
            reaped=times.children_user + times.children_system,
        )
    with open("/proc/uptime") as uptime:
        wall = float(uptime.read().split()[0])
    return Snapshot(processes=processes, busy=_host_busy(), wall=wall, paging=_paging())


TOP_OTHERS = 3


@dataclass(frozen=True)
class Ledger:
    cores: dict[str, float]  # by kind, "other" included
    top_others: dict[str, float]  # the processes of no kind that used the most, by name: cores
    refaults_mib: float = 0.0  # MiB a second of file pages read back after the kernel had dropped them
    major_faults: float = 0.0  # a second
    disk_read_mib: float = 0.0  # a second


def by_kind(
    before: Snapshot, after: Snapshot, classify: Classifier, reaped_into: Callable[[str], str | None]
) -> Ledger:
    """Cores used by each kind between the snapshots. A process's own CPU counts for its kind, its reaped
    children's for `reaped_into(its kind)` (None: its own kind), and "other" is the host's busy time less the
    kinds' (the processes of no kind that used most are named). A process alive at both counts its difference,
    one started in the window all it used; one alive at the first and gone at the second was added to its parent
    whole when reaped, so what it had used before the window is taken off again."""
    seconds = after.wall - before.wall
    kinds = {p.pid: classify(p) for p in after.processes.values()}
    cpu: dict[str, float] = {}
    unclassified: dict[str, float] = {}

    def add(kind: str | None, used: float) -> None:
        if kind is not None:
            cpu[kind] = cpu.get(kind, 0.0) + used

    for key, process in after.processes.items():
        kind = kinds[process.pid]
        earlier = before.processes.get(key)
        own = process.own - (earlier.own if earlier else 0.0)
        if kind is None:
            unclassified[process.name] = unclassified.get(process.name, 0.0) + own
            continue
        add(kind, own)
        add(reaped_into(kind) or kind, process.reaped - (earlier.reaped if earlier else 0.0))
    for key, gone in before.processes.items():
        parent = kinds.get(gone.ppid)
        if key not in after.processes and parent is not None:
            add(reaped_into(parent) or parent, -(gone.own + gone.reaped))
    cores = {kind: used / seconds for kind, used in cpu.items()}
    cores["other"] = (after.busy - before.busy) / seconds - sum(cores.values())
    others = sorted(unclassified.items(), key=lambda item: -item[1])[:TOP_OTHERS]

    def rate(counter: str) -> float:
        return (after.paging.get(counter, 0) - before.paging.get(counter, 0)) / seconds

    return Ledger(
        cores,
        {name: used / seconds for name, used in others if used > 0},
        refaults_mib=rate("workingset_refault_file") * PAGE_KIB / 1024,
        major_faults=rate("pgmajfault"),
        disk_read_mib=rate("pgpgin") / 1024,
    )


def ancestors(pid: int, table: dict[int, int]) -> Iterable[int]:
    """`pid`'s parent, its parent's, ... by a pid → ppid table."""
    seen: set[int] = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid]
        yield pid


def parents(shot: Snapshot) -> dict[int, int]:
    """The pid → parent pid table of a snapshot."""
    return {process.pid: process.ppid for process in shot.processes.values()}
