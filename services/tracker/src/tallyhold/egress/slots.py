"""A bound on the egress workers alive at once on a host, shared by every instance on it.

Each instance starts its egress worker when a sync needs it (about once per sync interval) and the worker lives
until it has been idle `EGRESS_IDLE_SECONDS`. On a host of hundreds of instances nothing else bounds how many
live at once: when the host's CPU falls behind, workers take longer, more of them overlap, each holds ~70-90
MiB, and a host past its capacity runs out of memory instead of running late (measured: 178 workers alive at
once on a 2-core host of 200 customers, then the kernel's OOM killer).

The bound is a folder of slot files (`slot-000`, `slot-001`, ...; their number is the bound), made by the
operator's provisioner and readable by every instance (read-only is enough: `flock` needs no write access).
An instance holds an exclusive `flock` on one slot for as long as its worker lives; the kernel releases it
when the descriptor is closed, also when the instance dies, so a slot is never lost. What an instance learns
from the folder is how many slots are taken; no name or customer (on the local backend the host's
/proc/locks lists the holders' pids, as `ps` lists every process).

An instance that finds every slot taken looks again every second (a random order of slots each time, so no
slot is everyone's first) for at most `wait_seconds`, then the call fails as transient
(`egress_worker_unavailable`, with a Retry-After): a sync then retries at its backoff, late rather than
piling up; a key check answers that the exchange could not be reached, try again.

The bound is cooperative: it keeps honest instances from overloading the host together, not a hostile one (an
instance's code could hold every slot, and every other instance's syncs would then fail until the operator
stops it; README, "Customers per host").
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import random
import stat
import time
from pathlib import Path

logger = logging.getLogger("tallyhold.egress")

SLOT_PREFIX = "slot-"
LOOK_AGAIN_SECONDS = 1.0


class SlotsBusy(Exception):
    """Every slot stayed taken for the whole wait (or there is none to take)."""


class Slot:
    """One slot held: the descriptor whose exclusive lock is the slot. `release` is idempotent."""

    def __init__(self, name: str, descriptor: int) -> None:
        self.name = name
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)  # closing the only descriptor of the open file releases its lock

    def __repr__(self) -> str:
        return f"Slot({self.name!r}, held={self._descriptor is not None})"


class WorkerSlots:
    def __init__(self, folder: Path, wait_seconds: float) -> None:
        self.folder = folder
        self.wait_seconds = wait_seconds

    def slot_names(self) -> list[str]:
        """The slots there are now: read at every wait, so the operator can change the bound without restarts."""
        try:
            return sorted(entry.name for entry in os.scandir(self.folder) if entry.name.startswith(SLOT_PREFIX))
        except OSError:
            return []

    def try_take(self) -> Slot | None:
        names = self.slot_names()
        random.shuffle(names)
        for name in names:
            slot = self._try_lock(name)
            if slot is not None:
                return slot
        return None

    def _try_lock(self, name: str) -> Slot | None:
        try:
            # A slot is a plain file the provisioner made: never a link to something else to lock (O_NOFOLLOW),
            # and a FIFO put in its place must not block the event loop at its open (O_NONBLOCK).
            descriptor = os.open(self.folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(f"{name} is not a regular file")
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None
        return Slot(name, descriptor)

    async def take(self) -> Slot:
        """A slot, waiting for one at most `wait_seconds`; SlotsBusy when none came free (or there is none)."""
        deadline = time.monotonic() + self.wait_seconds
        waited = False
        while True:
            slot = self.try_take()
            if slot is not None:
                if waited:
                    logger.info("egress worker slot %s taken after a wait", slot.name)
                return slot
            if not self.slot_names():
                logger.error("no egress worker slot in %s (EGRESS_WORKER_SLOTS_DIR): no worker can start", self.folder)
                raise SlotsBusy("no egress worker slot exists")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SlotsBusy("every egress worker slot of this host stayed taken")
            waited = True
            # Jittered: instances that wait together do not look together.
            await asyncio.sleep(min(remaining, LOOK_AGAIN_SECONDS * random.uniform(0.5, 1.5)))
