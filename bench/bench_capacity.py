"""Capacity: how many customers one host holds with the local (or the podman) backend, each syncing every 5
minutes, while `/v1/networth` p99 stays ≤ 50 ms and every source's sync finishes within its interval. Goal
(issue 16): ≥ 200 customers on a 2-core, 24 GiB host with the local backend.

Everything runs for real: embedded Postgres, OpenBao, supervisord, and per customer a full stack made by the
provisioner's `create` (schema and roles, transit key, supervised `tallyhold serve`) seeded through its API
with a realistic mix (bench/world.py: 2 exchange accounts on the sandbox venues, 3 Ethereum wallets with
tokens on anvil, 1 zpub on the Esplora sandbox, 2 manual holdings) and synced by its own scheduler.

Steps: 25, 50, 100, 200, 300, ... customers (each step adds customers to the last), until a limit breaks or
the host's memory runs low. At each step, for one sync interval plus 10 %: an open-loop load on
`/v1/networth` spread over every customer (NETWORTH_RATE_PER_CUSTOMER req/s each; latencies from each
request's due time, so a stalled server cannot hide its queue), then every source of every customer must have
synced successfully inside that window; the sync durations the instances observed (their metrics) are shown.
Memory: the host's (total − available) over its value before the first customer, the instances' RSS and PSS
(median, at the end of the window: idle between syncs), and the egress workers' peak RSS/PSS while they live.

With the podman backend each customer is a container stack (its own network, pod, secrets and volume) of the
tracker image, built (layers reused) before the first step and not timed. The platform (Postgres, OpenBao) and
the fakes listen on every address, as for `make run` on podman: a pod reaches them at the host's address on its
network, which the backend gives it in place of the loopback URLs. The API and metrics ports are published on
127.0.0.1, so the load and the scrapes go the same way; an instance's memory is summed over every process of its
container (its egress worker included while it lives), its pid is the container's (`podman inspect`).

Knobs (environment): TALLYHOLD_BENCH_CAPACITY_BACKEND (local, the default, or podman),
TALLYHOLD_BENCH_CAPACITY_MAX (the last step; e.g. 10 for a quick run),
TALLYHOLD_BENCH_CAPACITY_STEPS (only these steps measured, e.g. 100,200; it overrides MAX),
TALLYHOLD_BENCH_CAPACITY_INTERVAL (sync interval, seconds; 300 by default, ≥ 30),
TALLYHOLD_BENCH_CAPACITY_RATE (networth requests per second per customer; 0.5 by default),
TALLYHOLD_BENCH_CAPACITY_INTERVALS (sync intervals in each step's window; 1 by default). Each step also prints
the egress worker starts per customer and sync cycle (each start costs the worker's imports, ~1.7 s of CPU).
TALLYHOLD_BENCH_CAPACITY_POOL (customers per egress pool; 50 by default). Binance limits request weight per IP
(6,000 a minute, of which the shared budget plans 80 %), and one Binance sync weighs 349: one egress IP serves at
most ~68 Binance syncs per 5 minutes, whatever the host. The bench measures the host, so it gives every POOL
customers an egress pool of their own, as an operator with that many Binance customers must give them egress IPs
(the sandbox sees every request from 127.0.0.1 and enforces no per-IP limit here); `POOL` ≥ the largest step puts
every customer in one pool, and then the IP's limit, not the host's, is what breaks first.
Everything it made (customers, their OS users or podman stacks, the platform's daemons, the fakes, the state
folder) is removed at the end, also when a step fails or the bench is interrupted (Ctrl-C, SIGTERM); with podman
it then lists what podman still holds of its customers (nothing, or it says so).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bench import cpu_ledger
from bench.bench_api import percentile
from bench.containers import container_memory, instance_container, instance_pid
from bench.openloop import open_loop
from bench.world import SOURCES_PER_CUSTOMER, World, remove_platform, temporary_folder
from tallyhold.settings import SyncSettings
from tallyhold_provision.backends.podman import remove_stack, stack_objects
from tallyhold_provision.config import BackendName, ProvisionerSettings
from tallyhold_provision.factory import build, local_platform
from tallyhold_provision.local.forkserver import PROGRAM as FORKSERVER
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.local.ports import listen_address
from tallyhold_provision.podman.image import build as build_image

STEPS = (25, 50, 100, 200, 300, 400, 600, 800)
P99_TARGET_MS = 50.0
GOAL_CUSTOMERS = 200
LOW_MEMORY_FRACTION = 0.10  # stop before the host swaps or the OOM killer picks


def memory_low() -> bool:
    """Whether the host's available memory is under LOW_MEMORY_FRACTION: checked while customers are added and
    every SAMPLE_SECONDS of a window, not only between steps. A host past its capacity does not fail politely: at
    200 customers here, egress workers starved of CPU piled up (178 alive at once, ~70 MiB each) until the OOM
    killer picked processes and the load average passed 400."""
    memory = psutil.virtual_memory()
    return memory.available < LOW_MEMORY_FRACTION * memory.total


SAMPLE_SECONDS = 10.0
JITTER_SECONDS = float(SyncSettings.model_fields["jitter_seconds"].default)  # the instances run with the default
KNOB_PREFIX = "TALLYHOLD_BENCH_CAPACITY_"
BACKENDS = (BackendName.local, BackendName.podman)  # kubernetes needs a cluster, which this bench does not start


def _knob(name: str, default: float) -> float:
    value = os.environ.get(f"{KNOB_PREFIX}{name}")
    return float(value) if value else default


def backend_knob(environ: Mapping[str, str]) -> BackendName:
    """TALLYHOLD_BENCH_CAPACITY_BACKEND: the backend the customers run on (local when unset or empty)."""
    value = environ.get(f"{KNOB_PREFIX}BACKEND") or BackendName.local.value
    chosen = next((b for b in BACKENDS if b.value == value), None)
    if chosen is None:
        names = " or ".join(b.value for b in BACKENDS)
        raise SystemExit(f"{KNOB_PREFIX}BACKEND={value!r}: the capacity bench runs on {names}")
    return chosen


def steps(largest: int) -> list[int]:
    return [s for s in STEPS if s < largest] + [largest]


def steps_knob(environ: Mapping[str, str]) -> list[int]:
    """The steps measured: TALLYHOLD_BENCH_CAPACITY_STEPS (customer counts, comma-separated, e.g. `100,200`: the
    customers are still added one by one up to each, but only these steps get a measuring window, which saves the
    smaller steps' windows on a long run), else every step of STEPS up to TALLYHOLD_BENCH_CAPACITY_MAX."""
    value = environ.get(f"{KNOB_PREFIX}STEPS", "").strip()
    if not value:
        largest = environ.get(f"{KNOB_PREFIX}MAX")
        return steps(int(largest) if largest else STEPS[-1])
    try:
        chosen = sorted({int(part) for part in value.split(",")})
    except ValueError:
        chosen = []
    if not chosen or chosen[0] < 1:
        raise SystemExit(f"{KNOB_PREFIX}STEPS={value!r}: give customer counts ≥ 1, comma-separated (e.g. 100,200)")
    return chosen


@dataclass
class Customer:
    id: str
    slug: str
    url: str
    token: str
    metrics_url: str | None
    container: str | None  # podman: the tracker container; None on the local backend

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class MemorySampler:
    """Egress workers (children of the instances, or of the host's fork server) while they live: their peak RSS
    and PSS, every SAMPLE_SECONDS, from a thread (smaps reads are too slow to do for every instance that often)."""

    pids: list[int]
    forkserver: int | None = None  # the local backend's egress worker fork server: its children are workers
    worker_rss: list[float] = field(default_factory=list)
    worker_pss: list[float] = field(default_factory=list)
    workers_alive: int = 0  # the most egress workers alive at one sample
    stop: threading.Event = field(default_factory=threading.Event)
    low_memory: threading.Event = field(default_factory=threading.Event)  # set: the window ends early

    def run(self) -> None:
        parents = set(self.pids) | ({self.forkserver} if self.forkserver else set())
        while not self.stop.wait(SAMPLE_SECONDS):
            if memory_low():
                self.low_memory.set()
                return
            alive = 0
            # One pass over the process table (a children() call per instance would read it once per instance).
            for process in psutil.process_iter(["ppid"]):
                if process.info["ppid"] not in parents:
                    continue
                try:
                    info = process.memory_full_info()
                except psutil.Error:
                    continue
                alive += 1
                self.worker_rss.append(info.rss / 2**20)
                self.worker_pss.append(info.pss / 2**20)
            self.workers_alive = max(self.workers_alive, alive)


async def networth_load(
    customers: list[Customer], rate: float, seconds: float, abort: threading.Event | None = None
) -> dict[str, float]:
    """Open loop (bench/openloop.py): request i goes to customer i mod n. When `abort` is set the requests not
    yet sent are dropped (the figures are then of those sent)."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=8)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        for customer in customers:  # connections open, routes warm
            async with client.get(customer.url + "/v1/networth", headers=customer.headers) as warm:
                await warm.read()

        async def one(index: int, due: float) -> None:
            nonlocal errors
            customer = customers[index % len(customers)]
            try:
                async with client.get(customer.url + "/v1/networth", headers=customer.headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            errors += not ok
            latencies.append((time.perf_counter() - due) * 1000)

        await open_loop(rate, total, one, lead=0.1, abort=abort)
    if not latencies:  # aborted before the first request was due
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "rate": 0.0, "errors": 0.0}
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "rate": total / seconds,
        "errors": float(errors),
    }


def _samples(customer: Customer, name: str) -> list[Sample]:
    """The samples named `name` in one scrape of the instance's metrics."""
    if customer.metrics_url is None:
        return []
    families = text_string_to_metric_families(httpx.get(customer.metrics_url, timeout=10).text)
    return [sample for family in families for sample in family.samples if sample.name == name]


def _sync_durations(customer: Customer) -> dict[float, float]:
    """Cumulative bucket counts of the instance's sync-duration histogram, all source kinds together."""
    found: dict[float, float] = {}
    for sample in _samples(customer, "tallyhold_sync_duration_seconds_bucket"):
        bound = float(sample.labels["le"])
        found[bound] = found.get(bound, 0.0) + sample.value
    return found


def _sample(customer: Customer, name: str) -> float:
    found = _samples(customer, name)
    return found[0].value if found else 0.0


def _worker_starts(customer: Customer) -> float:
    """The instance's egress worker starts so far (each costs the worker's imports, ~1.7 s of CPU)."""
    return _sample(customer, "tallyhold_egress_worker_starts_total")


def _all_slot_waits(customers: list[Customer]) -> dict[str, float]:
    """The instances' egress worker starts that found the host's worker slots all taken, by outcome (`taken`
    after a wait, `busy`: none came free in time)."""
    total: dict[str, float] = {"taken": 0.0, "busy": 0.0}
    for customer in customers:
        for sample in _samples(customer, "tallyhold_egress_worker_slot_waits_total"):
            outcome = sample.labels["outcome"]
            total[outcome] = total.get(outcome, 0.0) + sample.value
    return total


def _cycles_settled(customers: list[Customer], timeout: float) -> None:
    """Waits (bounded) until no instance has a sync in flight, so that a cycle begun at the window's end has its
    syncs counted with its worker start."""
    deadline = time.monotonic() + timeout
    while any(_sample(c, "tallyhold_sync_in_flight") for c in customers) and time.monotonic() < deadline:
        time.sleep(1)


def _slowest(before: list[dict[float, float]], after: list[dict[float, float]]) -> tuple[int, float, float]:
    """Syncs observed between two scrapes of every instance, and the bucket bounds of their p99 and max."""
    delta: dict[float, float] = {}
    for old, new in zip(before, after, strict=True):
        for bound, count in new.items():
            delta[bound] = delta.get(bound, 0.0) + count - old.get(bound, 0.0)
    ordered = sorted(delta)
    total = delta.get(float("inf"), 0.0)
    if not total:
        return 0, 0.0, 0.0
    p99 = next(b for b in ordered if delta[b] >= 0.99 * total)
    worst = next(b for b in ordered if delta[b] >= total)
    return int(total), p99, worst


def _unsynced(customers: list[Customer], since: datetime) -> list[str]:
    """Sources that did not sync successfully since `since` (error codes, or `late`)."""
    problems: list[str] = []
    for customer in customers:
        status = httpx.get(customer.url + "/v1/sync/status", headers=customer.headers, timeout=30).json()
        for source in status["sources"]:
            if source["kind"] == "manual":
                continue
            success = source["last_success_at"]
            if source["last_error"]:
                problems.append(f"{source['venue']} {source['last_error']}")
            elif success is None or datetime.fromisoformat(success) < since:
                problems.append(f"{source['venue']} late")
    return problems


def _explain_unsynced(platform: LocalPlatform, customers: list[Customer], since: datetime) -> None:
    """One line per source that did not sync since `since`: its sync state (codes and times only), and on the
    local backend its instance's last warnings (the instance logs codes and reasons, never a secret)."""
    for customer in customers:
        status = httpx.get(customer.url + "/v1/sync/status", headers=customer.headers, timeout=30).json()
        for source in status["sources"]:
            success = source["last_success_at"]
            if source["kind"] == "manual" or not (
                source["last_error"] or success is None or datetime.fromisoformat(success) < since
            ):
                continue
            fields = ("venue", "last_error", "failure_count", "last_attempt_at", "next_attempt_at", "last_success_at")
            print(f"      unsynced: {customer.id} " + ", ".join(f"{name}={source[name]}" for name in fields))
            log = platform.state_dir / "logs" / f"{customer.id}.log"
            if customer.container is None and log.is_file():
                warnings = [line for line in log.read_text(errors="replace").splitlines() if '"warning"' in line]
                for line in warnings[-3:]:
                    print(f"        {line[:300]}")


def _wait_first_syncs(customers: list[Customer], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    epoch = datetime.fromtimestamp(0, UTC)
    while _unsynced(customers, epoch) and time.monotonic() < deadline:
        time.sleep(5)


def _instance_pid(platform: LocalPlatform, customer: Customer) -> int:
    """Asked anew at every use: supervisord or podman may have restarted the instance since."""
    if customer.container is not None:
        return instance_pid(customer.container)
    pid = platform.supervisor.pid(customer.id)
    if pid is None:
        raise RuntimeError(f"the instance of {customer.slug} is not running")
    return pid


def _instance_memory(platform: LocalPlatform, customers: list[Customer]) -> tuple[float, float]:
    """Median RSS and PSS (MiB): of the instance's process (local), or of every process of its container."""
    rss, pss = [], []
    for customer in customers:
        if customer.container is not None:
            rss_bytes, pss_bytes = container_memory(customer.container)
        else:
            info = psutil.Process(_instance_pid(platform, customer)).memory_full_info()
            rss_bytes, pss_bytes = info.rss, info.pss
        rss.append(rss_bytes / 2**20)
        pss.append(pss_bytes / 2**20)
    return statistics.median(rss), statistics.median(pss)


def _used_mib() -> float:
    memory = psutil.virtual_memory()
    return (memory.total - memory.available) / 2**20


def _postgres_connections(platform: LocalPlatform) -> int:
    with platform.postgres.connect() as connection:
        row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        found = row.fetchone()
    return int(str(found[0])) if found else 0


def _create(provisioner: Any, world: World, number: int, backend: BackendName) -> Customer:
    """Customer `number`, made by `provisioner` (whose settings name its egress pool)."""
    created = provisioner.create(f"cap-{number:04d}", backend=backend.value)
    record = created.customer
    if record.url is None or created.token is None:
        raise RuntimeError("the customer was not created and started")
    world.seed_customer(record.url, created.token, number)
    container = instance_container(record.id) if backend is BackendName.podman else None
    return Customer(record.id, record.slug, record.url, created.token, record.metrics_url, container)


def run_step(
    customers: list[Customer], platform: LocalPlatform, interval: float, rate: float, base: float, intervals: int = 1
) -> bool:
    """One measuring window; prints the step's line and returns whether every limit held. The window holds
    `intervals` scheduled syncs of every source whatever its instance's phase (up to the jitter into the
    interval), and 10 % more for the sync itself to finish."""
    window = interval * intervals * 1.1 + min(JITTER_SECONDS, interval / 2)
    started = datetime.now(UTC)
    before = [_sync_durations(c) for c in customers]
    starts_before = sum(_worker_starts(c) for c in customers)
    waits_before = _all_slot_waits(customers)
    forkserver = platform.supervisor.pid(FORKSERVER) if customers[0].container is None else None
    sampler = MemorySampler([_instance_pid(platform, c) for c in customers], forkserver)
    thread = threading.Thread(target=sampler.run, daemon=True)
    cpu_before = cpu_ledger.snapshot()
    thread.start()
    load = asyncio.run(networth_load(customers, rate * len(customers), window, abort=sampler.low_memory))
    sampler.stop.set()
    thread.join()
    cpu_after = cpu_ledger.snapshot()
    if sampler.low_memory.is_set():
        print(
            f"{len(customers):4d} customers: host memory ran low during the window (under "
            f"{LOW_MEMORY_FRACTION:.0%} available; egress workers alive at once, at most: {sampler.workers_alive}) "
            f"→ BROKE",
            flush=True,
        )
        return False
    _cycles_settled(customers, timeout=60)
    after = [_sync_durations(c) for c in customers]
    starts = sum(_worker_starts(c) for c in customers) - starts_before
    waits = {outcome: n - waits_before.get(outcome, 0.0) for outcome, n in _all_slot_waits(customers).items()}
    problems = _unsynced(customers, started)
    syncs, p99_sync, worst_sync = _slowest(before, after)
    if problems:
        _explain_unsynced(platform, customers, started)
    rss, pss = _instance_memory(platform, customers)
    measured = "containers (every process)" if customers[0].container else "instance"
    used = _used_mib() - base
    sources = len(customers) * (SOURCES_PER_CUSTOMER - 2)
    cycles = syncs / sources  # each source's syncs in the window: the customer's sync cycles
    held = load["p99"] <= P99_TARGET_MS and not problems and worst_sync <= interval and not load["errors"]
    worker = (
        f"peak RSS {max(sampler.worker_rss):.0f} MiB, PSS {max(sampler.worker_pss):.0f} MiB"
        if sampler.worker_rss
        else "none seen alive at the samples"
    )
    print(
        f"{len(customers):4d} customers: networth p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms "
        f"(≤ {P99_TARGET_MS:.0f}), max {load['max']:.0f} ms, {load['rate']:.0f} req/s, {int(load['errors'])} errors; "
        f"syncs in the window: {sources - len(problems)}/{sources} sources ok"
        f"{' (' + ', '.join(sorted(set(problems))) + ')' if problems else ''}, {syncs} source syncs observed, "
        f"duration p99 ≤ {p99_sync:g} s, max ≤ {worst_sync:g} s (interval {interval:.0f} s) → "
        f"{'held' if held else 'BROKE'}",
        flush=True,
    )
    print(
        f"      memory: host +{used / 1024:.2f} GiB ({used / len(customers):.0f} MiB per customer, Postgres "
        f"included); {measured} median RSS {rss:.1f} MiB, PSS {pss:.1f} MiB; egress workers {worker}; "
        f"Postgres client connections {_postgres_connections(platform)}; egress workers alive at once at most "
        f"{sampler.workers_alive}; egress worker starts {starts:.0f} in "
        f"{cycles:.1f} sync cycles: {starts / len(customers) / max(cycles, 1):.2f} per customer and cycle; "
        f"starts that waited for a host worker slot {waits['taken']:.0f}, that found none in time {waits['busy']:.0f}",
        flush=True,
    )
    classify = _classifier(set(sampler.pids), forkserver, cpu_after)
    ledger = cpu_ledger.by_kind(cpu_before, cpu_after, classify, _reaped_into)
    seconds = cpu_after.wall - cpu_before.wall
    line = _cpu_line(ledger, seconds, starts, len(customers))
    print(f"      CPU in the window, cores of {psutil.cpu_count()}: {line}", flush=True)
    return held


def _classifier(instances: set[int], forkserver: int | None, shot: cpu_ledger.Snapshot) -> cpu_ledger.Classifier:
    """Kinds of process on the host: the customers' instances (with podman: their containers' first process),
    their egress workers (the instances' children, or the local backend's fork server's), the fork server itself,
    Postgres, OpenBao, supervisord, this bench (the networth load, the scrapes and the memory samples) and the
    fakes it started (the sandbox venues, anvil, Esplora)."""
    bench, table = os.getpid(), cpu_ledger.parents(shot)

    def classify(process: cpu_ledger.Process) -> str | None:
        if process.pid in instances:
            return "instances"
        if process.pid == forkserver:
            return "fork server"
        if process.ppid in instances or (forkserver is not None and process.ppid == forkserver):
            return "egress workers"
        for prefix, kind in (("postgres", "Postgres"), ("bao", "OpenBao"), ("supervisord", "supervisord")):
            if process.name.startswith(prefix):
                return kind
        if process.pid == bench:
            return "bench"
        return "fakes" if bench in cpu_ledger.ancestors(process.pid, table) else None

    return classify


def _reaped_into(kind: str) -> str | None:
    """The reaped children of an instance or of the fork server are egress workers; every other kind's stay its
    own."""
    return "egress workers" if kind in ("instances", "fork server") else None


def _cpu_line(ledger: cpu_ledger.Ledger, seconds: float, starts: float, customers: int) -> str:
    """Cores by kind, then the egress workers' CPU per start (their starts counted a little past the CPU window,
    once the cycles in flight settled) and an instance's CPU per second."""
    cores = ledger.cores
    order = (
        "egress workers",
        "fork server",
        "instances",
        "Postgres",
        "OpenBao",
        "supervisord",
        "bench",
        "fakes",
        "other",
    )
    parts = [f"{kind} {cores.get(kind, 0.0):.2f}" for kind in order]
    others = ", ".join(f"{name} {used:.2f}" for name, used in ledger.top_others.items())
    parts[-1] += f" ({others})" if others else ""
    per_start = cores.get("egress workers", 0.0) * seconds / max(starts, 1)
    return (
        f"{', '.join(parts)}; busy {sum(cores.values()):.2f}; egress worker CPU per start {per_start:.2f} s; "
        f"instance CPU {cores.get('instances', 0.0) / customers * 1000:.1f} ms a second each; page cache: "
        f"{ledger.refaults_mib:.1f} MiB/s read back after the kernel dropped it, {ledger.major_faults:.0f} major "
        f"faults/s, {ledger.disk_read_mib:.1f} MiB/s read from disk"
    )


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM too runs the clean-up below


def _clean_up(provisioner: Any, platform: LocalPlatform, backend: BackendName) -> None:
    """Every customer destroyed and the daemons stopped; with podman, then, whatever podman still holds of a
    customer of this run (by its id, from the registry or its folder in the state) is removed and said."""
    folders = platform.state_dir / "instances"
    ids = {path.name for path in folders.iterdir()} if folders.is_dir() else set()
    try:
        ids.update(remove_platform(provisioner, platform))
    finally:  # also when the registry could not be read: the folders still name the customers
        if backend is BackendName.podman:
            _remove_stacks(ids)


def _remove_stacks(ids: set[str]) -> None:
    left = stack_objects(ids)
    for customer_id in left:
        remove_stack(customer_id)
    still = stack_objects(ids)
    said = ", ".join(thing for things in left.values() for thing in things)
    print(
        f"podman objects of the {len(ids)} customers left after destroy: {said or 'none'}"
        + (f"; still there after removing them again: {still}" if still else ""),
        flush=True,
    )


def main() -> None:
    backend = backend_knob(os.environ)
    measured = steps_knob(os.environ)
    largest = measured[-1]
    interval = _knob("INTERVAL", 300)
    rate = _knob("RATE", 0.5)
    intervals = int(_knob("INTERVALS", 1))
    pool_size = int(_knob("POOL", 50))
    print(
        f"{backend.value} backend; steps {measured}; sync interval {interval:.0f} s; networth {rate:g} req/s "
        f"per customer; {pool_size} customers per egress pool; {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.1f} GiB; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _interrupted)
    if backend is BackendName.podman:
        started = time.perf_counter()
        image = build_image()  # layers reused: quick when `make image` ran since the last change
        print(f"  (image {image} built or reused in {time.perf_counter() - started:.0f} s, not counted)", flush=True)
    with temporary_folder() as tmp:
        folder = Path(tmp)
        settings = ProvisionerSettings(STATE_DIR=folder / "state", DEFAULT_BACKEND=backend)
        platform = local_platform(settings)
        world = World(folder, listen=listen_address(platform.listen_all))
        provisioner = None
        pooled: dict[int, Any] = {}  # egress pool number → a provisioner whose customers join that pool
        try:
            world.start()
            platform.ensure_postgres()
            platform.ensure_openbao()
            environ = world.instance_environment(SYNC_INTERVAL_SECONDS=str(int(interval)))
            provisioner = build(settings, environ=environ)
            provisioner.vault()
            base = _used_mib()
            customers: list[Customer] = []
            held_at = 0
            for target in measured:
                started, had = time.perf_counter(), len(customers)
                while len(customers) < target and not memory_low():
                    pool = len(customers) // pool_size
                    if pool not in pooled:
                        named = settings.model_copy(update={"EGRESS_POOL": f"bench-{pool}"})
                        pooled[pool] = build(named, environ=environ)
                    customers.append(_create(pooled[pool], world, len(customers), backend))
                took = time.perf_counter() - started
                if len(customers) < target:
                    print(f"host memory ran low while adding customers, at {len(customers)}: stopping here")
                    break
                _wait_first_syncs(customers, timeout=interval)
                print(
                    f"  (+{target - had} customers created and seeded in {took:.0f} s; "
                    f"{world.busy_key_checks} key checks so far told to come back at their turn, "
                    f"{world.unavailable_key_checks} sent again after `exchange_unavailable`)"
                )
                if not run_step(customers, platform, interval, rate, base, intervals):
                    break
                held_at = target
                if memory_low():
                    print("host memory is running low: stopping here")
                    break
            verdict = "met" if held_at >= GOAL_CUSTOMERS else f"not shown (largest step run: {largest})"
            if largest >= GOAL_CUSTOMERS and held_at < GOAL_CUSTOMERS:
                verdict = "MISSED"
            print(
                f"customers per host with every limit held ({backend.value} backend): {held_at} "
                f"(goal ≥ {GOAL_CUSTOMERS}: {verdict})"
            )
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            started = time.perf_counter()
            for extra in pooled.values():
                extra.close()
            try:
                _clean_up(provisioner, platform, backend)
            finally:
                world.stop()
                for signum, handler in handlers.items():  # `python -m bench` runs the next benches as before
                    signal.signal(signum, handler)
            print(f"(everything removed in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
