"""A customer's container as the benches measure it from the host: its instance's pid and its memory."""

from __future__ import annotations

from pathlib import Path

from tallyhold_provision.podman.engine import inspect


def instance_container(customer_id: str) -> str:
    """The podman backend's name for the customer's tracker container (podman/spec.py)."""
    return f"tallyhold-{customer_id}-instance"


def instance_pid(container: str) -> int:
    """The host's pid of the container's first process: `tallyhold serve` itself (the image's entry point), whose
    children (the egress workers) the host sees as its children (rootful podman: one pid namespace view)."""
    return int(inspect("container", container)["State"]["Pid"])


def container_memory(container: str) -> tuple[int, int]:
    """RSS and PSS (bytes) summed over every process of the container."""
    pid = instance_pid(container)
    rss = pss = 0
    for process in [pid, *_descendants(pid)]:
        for line in Path(f"/proc/{process}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in {"Rss", "Pss"}:
                kib = int(rest.split()[0]) * 1024
                rss, pss = (rss + kib, pss) if key == "Rss" else (rss, pss + kib)
    return rss, pss


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found
