"""Containers: the tracker image and the podman backend, for real.

Image: cold build (no layer cache; the Debian base and uv's download cache kept, as on any machine after its
first `make image`), warm rebuild after a code-only change (goal ≤ 20 s: the dependency layer is reused), and
the image's size (goal ≤ 300 MB). Backend: time from `create` to /readyz for one customer (goal ≤ 5 s once the
image exists), twenty customers created one after another (goal ≤ 90 s), the RSS and PSS of an idle customer
container, and how many idle customers fit in 24 GiB at that PSS.

The platform (embedded Postgres and OpenBao listening for pods) is started in a temporary state folder through
the provisioner's own factory with DEFAULT_BACKEND=podman, and not counted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.containers import container_memory, instance_container
from bench.world import remove_platform
from tallyhold_provision.config import BackendName, ProvisionerSettings
from tallyhold_provision.factory import build as build_provisioner
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.podman.engine import inspect, podman
from tallyhold_provision.podman.image import BuildRequest, build, image_ref

CUSTOMERS = int(os.environ.get("BENCH_CONTAINER_CUSTOMERS", "20"))
IDLE_SECONDS = 30.0  # longer than the egress worker's idle time: what stays is the idle API
ENVIRON = {"TALLYHOLD_LOG_LEVEL": "WARNING"}
BUILD_INPUTS = (
    "Containerfile",
    ".containerignore",
    "pyproject.toml",
    "uv.lock",
    "services/tracker",
    "services/sandbox/pyproject.toml",
    "provisioner/pyproject.toml",
    "tools/image/slim_venv.py",
    ".tools/bin/uv",
)
GIB = 1024**3


def _copy_inputs(target: Path) -> None:
    root = checkout_root()
    for name in BUILD_INPUTS:
        source, dest = root / name, target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest)


def image_figures() -> None:
    tag = "bench"
    with tempfile.TemporaryDirectory(prefix="th-bench-image-") as tmp:
        root = Path(tmp)
        _copy_inputs(root)
        build(BuildRequest(tag=tag), root=root)  # the base and uv images exist before the timing
        podman("rmi", image_ref(tag))
        started = time.perf_counter()
        build(BuildRequest(tag=tag, no_cache=True), root=root)
        cold = time.perf_counter() - started
        module = root / "services" / "tracker" / "src" / "tallyhold" / "healthcheck.py"
        module.write_text(module.read_text() + "\n# a code-only change\n")
        started = time.perf_counter()
        build(BuildRequest(tag=tag), root=root)
        warm = time.perf_counter() - started
        size = int(inspect("image", image_ref(tag))["Size"])
        podman("rmi", image_ref(tag))
    print(f"image cold build (no layer cache): {cold:.1f} s")
    print(f"image rebuild after a code-only change: {warm:.1f} s (goal ≤ 20 s)")
    print(f"image size: {size / 1e6:.0f} MB (goal ≤ 300 MB)")


def _wait_ready(url: str) -> None:
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)


def backend_figures() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-podman-") as tmp:
        settings = ProvisionerSettings(STATE_DIR=Path(tmp) / "state", DEFAULT_BACKEND=BackendName.podman)
        try:
            _customer_figures(settings, [f"bench-{n:02d}" for n in range(CUSTOMERS)])
        finally:  # the provisioner leaves the shared daemons running for its next command; the bench does not
            remove_platform(None, LocalPlatform(settings.STATE_DIR))


def _customer_figures(settings: ProvisionerSettings, slugs: list[str]) -> None:
    with build_provisioner(settings, environ=ENVIRON) as provisioner:
        provisioner.vault()  # the platform and the provisioner's login, not counted
        try:
            durations = []
            for slug in slugs:
                started = time.perf_counter()
                customer = provisioner.create(slug, backend="podman").customer
                _wait_ready(str(customer.url))
                durations.append(time.perf_counter() - started)
            print(f"create → /readyz, first customer: {durations[0]:.1f} s (goal ≤ 5 s)")
            print(f"create → /readyz, median of {CUSTOMERS}: {statistics.median(durations):.1f} s")
            print(f"{CUSTOMERS} customers created one after another: {sum(durations):.1f} s (goal ≤ 90 s)")
            time.sleep(IDLE_SECONDS)
            memory = [container_memory(instance_container(provisioner.get(slug).id)) for slug in slugs]
            rss = statistics.median(m[0] for m in memory)
            pss = statistics.median(m[1] for m in memory)
            print(f"idle customer container: RSS {rss / 2**20:.0f} MiB, PSS {pss / 2**20:.0f} MiB (median)")
            print(f"idle customers per 24 GiB at that PSS (containers only): {int(24 * GIB // pss)}")
        finally:
            for slug in slugs:
                provisioner.destroy(slug)


def main() -> None:
    image_figures()
    backend_figures()


if __name__ == "__main__":
    main()
