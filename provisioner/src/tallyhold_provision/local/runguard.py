"""What a `make run` started, and how it is stopped whatever becomes of `make run` itself.

`make run` records what it starts in `<state>/make-run.json` (its pid, and which of Postgres, OpenBao,
supervisord and supervisord programs it started rather than found running) before starting each of them. Three
ways lead to the same `stop_started`:

- Ctrl-C or SIGTERM: `make run` stops them itself, then deletes the record.
- `make run` killed (SIGKILL, a closed terminal, a crash) while running or while stopping: its guard does it.
  The guard is a small process started first, in a session of its own (so the terminal's signals do not reach
  it), that blocks reading a pipe only `make run` holds open. The kernel closes that pipe when `make run` dies
  however it dies; the guard then finds the record still there and stops what it lists.
- The guard killed too (`kill -9` of both): the next `make run` finds the record of a dead run and adopts its
  entries, so its own Ctrl-C stops them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from tallyhold_provision.local.files import read_json, write_private_json
from tallyhold_provision.local.platform import LocalPlatform

RECORD = "make-run.json"
GUARD_LOG = "make-run-guard.log"
GUARD_WAIT_SECONDS = 120.0
STARTED_FLAGS = ("postgres", "openbao", "supervisor")


@dataclass
class Started:
    """What this run started, so that stopping stops exactly that; saved to the record at every change."""

    root: Path
    postgres: bool = False
    openbao: bool = False
    supervisor: bool = False
    programs: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)  # podman pods (the demo on the podman backend)
    guard_pid: int | None = None

    @property
    def record(self) -> Path:
        return self.root / RECORD

    def mark(self, what: str, started: bool = True) -> None:
        """Note before a start that this run is starting `what` (a flag, or a supervisord program's name)."""
        if what in STARTED_FLAGS:
            setattr(self, what, getattr(self, what) or started)
        elif what not in self.programs:
            self.programs.append(what)
        self.save()

    def mark_pod(self, pod: str) -> None:
        if pod not in self.pods:
            self.pods.append(pod)
        self.save()

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k != "root"}
        write_private_json(self.record, {**data, "pid": os.getpid()})

    def adopt(self, previous: dict[str, Any]) -> None:
        for flag in STARTED_FLAGS:
            setattr(self, flag, getattr(self, flag) or bool(previous.get(flag)))
        programs = previous.get("programs")
        for name in programs if isinstance(programs, list) else []:
            if isinstance(name, str) and name not in self.programs:
                self.programs.append(name)
        pods = previous.get("pods")
        for pod in pods if isinstance(pods, list) else []:
            if isinstance(pod, str) and pod not in self.pods:
                self.pods.append(pod)
        self.save()

    def clear(self) -> None:
        self.record.unlink(missing_ok=True)


def stop_started(root: Path, started: Started, warn: Callable[[str], None]) -> None:
    """Stop what the run started, newest first. Errors are reported and the rest still stopped."""
    platform = LocalPlatform(root)
    steps: list[tuple[str, Callable[[], None]]] = []
    for pod in reversed(started.pods):
        steps.append((pod, partial(_stop_pod, pod)))
    if started.supervisor:
        steps.append(("supervisord and its programs", platform.supervisor.shutdown))
    else:
        for name in reversed(started.programs):
            steps.append((name, partial(platform.supervisor.stop_program, name)))
    if started.openbao:
        steps.append(("OpenBao", platform.openbao.stop))
    if started.postgres:
        steps.append(("Postgres", platform.postgres.stop))
    for what, stop in steps:
        try:
            stop()
        except Exception as exc:  # keep stopping the others; say which one failed and how
            warn(f"warning: stopping {what} failed ({type(exc).__name__})")


def _stop_pod(pod: str) -> None:
    from tallyhold_provision.podman.engine import podman

    podman("pod", "stop", "--time", "15", pod)


def _alive(pid: int, marker: bytes) -> bool:
    """Whether `pid` still runs this program (a recycled pid running something else does not count)."""
    try:
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def adopt_dead_run(started: Started, warn: Callable[[str], None]) -> None:
    """Take over the record of an earlier `make run` that was killed with its guard (or wait for its guard)."""
    previous = read_json(started.record)
    if previous is None:
        return
    pid = previous.get("pid")
    if isinstance(pid, int) and _alive(pid, b"tallyhold_provision.devstack"):
        raise RuntimeError(f"another make run (pid {pid}) uses {started.root}; stop it first")
    guard = previous.get("guard_pid")
    deadline = time.monotonic() + GUARD_WAIT_SECONDS
    while isinstance(guard, int) and _alive(guard, b"tallyhold_provision.local.runguard"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the guard of an earlier make run (pid {guard}) is still stopping its services")
        time.sleep(0.1)
    if read_json(started.record) is not None:
        warn(f"An earlier make run (pid {pid}) was killed; this run stops what it left running when it stops.")
        started.adopt(previous)


def start_guard(started: Started) -> subprocess.Popen[bytes]:
    """The guard of this process: it holds the read end of a pipe whose write end stays ours alone."""
    log = started.root / "logs" / GUARD_LOG
    with log.open("ab") as handle:
        guard = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "tallyhold_provision.local.runguard", str(started.root), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )
    started.guard_pid = guard.pid
    started.save()
    return guard


def guard(root: Path, parent: int) -> None:
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):  # nothing is ever written: this returns at end of file
        pass
    record = read_json(root / RECORD)
    if record is None or record.get("pid") != parent:
        return  # the run stopped everything itself (or a newer run owns the folder)
    _log(f"make run (pid {parent}) ended without stopping its services; stopping them")
    started = Started(root)
    started.adopt(record)
    stop_started(root, started, _log)
    started.clear()
    _log("stopped")


def _log(line: str) -> None:
    # Into the guard's log file (its stderr): the terminal of `make run` may be gone.
    sys.stderr.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {line}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    guard(Path(sys.argv[1]), int(sys.argv[2]))
