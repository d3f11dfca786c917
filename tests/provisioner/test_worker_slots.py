"""The host's egress worker slot folder the local and podman backends keep (tallyhold_provision/worker_slots.py)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tallyhold_provision.config import ProvisionerSettings
from tallyhold_provision.worker_slots import ensure_worker_slots


def names(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


def test_the_folder_holds_exactly_the_bound_and_follows_it(tmp_path: Path) -> None:
    folder = ensure_worker_slots(tmp_path, 3)
    assert folder == tmp_path / "egress-worker-slots"
    assert names(folder) == ["slot-000", "slot-001", "slot-002"]
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {(folder / name).stat().st_mode & 0o777 for name in names(folder)} == {0o644}
    assert ensure_worker_slots(tmp_path, 5) is not None
    assert names(folder) == [f"slot-{n:03d}" for n in range(5)]
    ensure_worker_slots(tmp_path, 2)
    assert names(folder) == ["slot-000", "slot-001"]


def test_a_lowered_bound_leaves_a_held_slot_with_its_holder_and_nobody_else(tmp_path: Path) -> None:
    folder = ensure_worker_slots(tmp_path, 2)
    assert folder is not None
    held = os.open(folder / "slot-001", os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        ensure_worker_slots(tmp_path, 1)
        assert names(folder) == ["slot-000"]  # the holder's worker runs on; the name is gone for the others
    finally:
        os.close(held)


def test_a_deploy_that_changes_nothing_touches_nothing(tmp_path: Path) -> None:
    """Every instance can read the folder: a chmod at each deploy would tell them when a customer was deployed."""
    folder = ensure_worker_slots(tmp_path, 2)
    assert folder is not None
    before = [os.stat(path).st_ctime_ns for path in (folder, folder / "slot-000", folder / "slot-001")]
    ensure_worker_slots(tmp_path, 2)
    assert [os.stat(path).st_ctime_ns for path in (folder, folder / "slot-000", folder / "slot-001")] == before


def test_anything_else_in_the_folder_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "egress-worker-slots"
    folder.mkdir(mode=0o777)
    (folder / "slot-000").symlink_to(tmp_path / "elsewhere")  # never a link to lock something else by
    (folder / "stray").write_text("x")
    ensure_worker_slots(tmp_path, 1)
    assert names(folder) == ["slot-000"]
    assert not (folder / "slot-000").is_symlink()
    assert folder.stat().st_mode & 0o777 == 0o755


def test_zero_means_no_bound_and_the_default_is_32(tmp_path: Path) -> None:
    assert ensure_worker_slots(tmp_path, 0) is None
    assert not (tmp_path / "egress-worker-slots").exists()
    assert ProvisionerSettings(STATE_DIR=tmp_path).EGRESS_WORKER_SLOTS == 32
