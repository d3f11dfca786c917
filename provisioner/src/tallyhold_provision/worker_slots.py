"""The host's egress worker slots: a folder of `slot-NNN` files whose number bounds the egress workers alive at
once on the host, whatever the number of instances (each instance holds a `flock` on one while its worker lives:
tallyhold/egress/slots.py). Made by the local and podman backends at every deploy, readable by every instance
(read-only suffices for `flock`); only the provisioner writes it. Past the bound, syncs run late instead of the
host running out of memory."""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = "egress-worker-slots"
DEFAULT_WORKER_SLOTS = 32  # the provisioner's EGRESS_WORKER_SLOTS default: ~3 GiB of workers at most
PREFIX = "slot-"


def slot_folder(state_dir: Path, count: int) -> Path | None:
    """Where the state folder's slots are; None when `count` is 0 (no bound)."""
    return state_dir / FOLDER if count else None


def ensure_worker_slots(state_dir: Path, count: int) -> Path | None:
    """`count` slots in the state folder's slot folder (extra ones removed: an instance holding one keeps it until
    its worker exits, but nobody takes it again); None when `count` is 0, no bound."""
    folder = slot_folder(state_dir, count)
    if folder is None:
        return None
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    _mode(folder, 0o755)  # instances run as users of their own: they must enter and read it, never write it
    wanted = {f"{PREFIX}{number:03d}" for number in range(count)}
    for entry in os.scandir(folder):
        if entry.name not in wanted or not entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink()
    for name in wanted:
        slot = folder / name
        if not slot.exists():
            slot.touch(mode=0o644)
        _mode(slot, 0o644)
    return folder


def _mode(path: Path, mode: int) -> None:
    """Only when it differs: a chmod changes the file's ctime, which every instance can read, and a deploy of one
    customer is none of the others' business."""
    if path.stat().st_mode & 0o7777 != mode:
        path.chmod(mode)
