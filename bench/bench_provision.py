"""Provisioning with the local backend: time to create one customer, then twenty (one after another, and four
at a time as an operator running several `create` commands at once would), and the memory of an idle
instance. Targets: one customer ≤ 3 s, twenty ≤ 60 s, idle instance ≤ 90 MiB RSS.

Everything runs for real in a temporary state folder: embedded Postgres, OpenBao, supervisord, and each
customer's full stack (registry row, schema and roles, migrations, transit key and AppRole, supervised
instance answering /healthz, first token). The platform's own start-up is not counted.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

from tallyhold_provision.config import ProvisionerSettings
from tallyhold_provision.factory import build
from tallyhold_provision.local.platform import LocalPlatform

TARGET_ONE_S = 3.0
TARGET_TWENTY_S = 60.0
TARGET_RSS_MIB = 90.0
# Longer than the egress worker's default idle time (20 s), after which it exits: what stays is the idle API.
IDLE_SECONDS = 30.0
PARALLEL = 4
ENVIRON = {"TALLYHOLD_LOG_LEVEL": "WARNING"}


def _warm(state: str) -> None:
    from tallyhold_provision import tokens  # noqa: F401 - loads what create needs, outside the timing

    build(ProvisionerSettings(STATE_DIR=Path(state)), environ=ENVIRON).close()


def _create(state: str, slug: str) -> float:
    started = time.perf_counter()
    with build(ProvisionerSettings(STATE_DIR=Path(state)), environ=ENVIRON) as provisioner:
        provisioner.vault()
        started = time.perf_counter()  # as in the sequential run: the provisioner's own login is not counted
        provisioner.create(slug, backend="local")
    return time.perf_counter() - started


def _tree_rss(pid: int) -> int:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-") as tmp:
        state = Path(tmp) / "state"
        platform = LocalPlatform(state)
        platform.ensure_postgres()
        platform.ensure_openbao()
        settings = ProvisionerSettings(STATE_DIR=state)
        step_times: dict[str, list[float]] = defaultdict(list)
        last = [time.perf_counter()]

        def lap(step: str) -> None:
            now = time.perf_counter()
            step_times[step].append(now - last[0])
            last[0] = now

        provisioner = build(settings, environ=ENVIRON, after_step=lap)
        try:
            provisioner.vault()  # the provisioner's own Vault login, once per command, is not a customer's cost
            started = time.perf_counter()
            last[0] = started
            provisioner.create("bench-first", backend="local")
            one = time.perf_counter() - started
            print(f"provision 1 customer (first, creates the tenant database): {one:.2f} s (target ≤ {TARGET_ONE_S} s)")

            step_times.clear()
            started = time.perf_counter()
            singles = []
            for index in range(20):
                t0 = time.perf_counter()
                last[0] = t0
                provisioner.create(f"bench-{index:02d}", backend="local")
                singles.append(time.perf_counter() - t0)
            twenty = time.perf_counter() - started
            print(f"provision 20 customers, one after another: {twenty:.1f} s (target ≤ {TARGET_TWENTY_S} s)")
            print(
                f"  per customer: median {statistics.median(singles):.2f} s, "
                f"max {max(singles):.2f} s, min {min(singles):.2f} s"
            )
            for step, times in step_times.items():
                print(f"  step {step:<12} median {statistics.median(times) * 1000:7.0f} ms")

            # Four `create` commands at a time (processes: Alembic's context is per process).
            with ProcessPoolExecutor(PARALLEL, mp_context=multiprocessing.get_context("spawn")) as pool:
                list(pool.map(_warm, [str(state)] * PARALLEL))
                started = time.perf_counter()
                times = list(pool.map(_create, [str(state)] * 20, [f"bench-par-{i:02d}" for i in range(20)]))
                parallel = time.perf_counter() - started
            print(
                f"provision 20 customers, {PARALLEL} at a time: {parallel:.1f} s (target ≤ {TARGET_TWENTY_S} s); "
                f"each {statistics.median(times):.2f} s median"
            )

            pids = [pid for c in provisioner.customers() if (pid := platform.supervisor.pid(c.id))]
            cpu_before = {pid: sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids}
            time.sleep(IDLE_SECONDS)
            cpu = [(sum(psutil.Process(pid).cpu_times()[:2]) - cpu_before[pid]) / IDLE_SECONDS for pid in pids]
            print(f"idle instance CPU: median {statistics.median(cpu) * 100:.2f} % of a core")
            api, tree = [], []
            for customer in provisioner.customers():
                pid = platform.supervisor.pid(customer.id)
                if pid:
                    api.append(psutil.Process(pid).memory_info().rss / 2**20)
                    tree.append(_tree_rss(pid) / 2**20)
            print(
                f"idle instance RSS after {IDLE_SECONDS:.0f} s: median {statistics.median(api):.1f} MiB, "
                f"max {max(api):.1f} MiB over {len(api)} instances (target ≤ {TARGET_RSS_MIB} MiB); "
                f"with child processes median {statistics.median(tree):.1f} MiB"
            )
            started = time.perf_counter()
            for customer in provisioner.customers():
                provisioner.destroy(customer.slug)
            print(f"destroy {len(api)} customers: {time.perf_counter() - started:.1f} s")
        finally:
            provisioner.close()
            platform.supervisor.shutdown()
            platform.openbao.stop()
            platform.postgres.stop()
