"""CPU of one egress worker start and sync: what a host of many customers pays once per customer and sync interval
(the worker exits when idle), measured for this checkout against a baseline commit, and with and without compiled
bytecode, in the same run.

Jobs, each sent at once through a fresh `EgressClient` worker, as the instance's sync sends them, with the
cycle's price read (bench/world.py's sandbox venues, anvil and Esplora sandbox):
- **mix**: the capacity customer's (Binance and Kraken balances, 3 Ethereum wallets with the curated tokens, 1
  zpub);
- **exchanges**: Binance and Kraken only (a customer without wallets);
- **wallets**: the 3 Ethereum wallets and the zpub only (a customer without exchange accounts).
The figure is the worker's own CPU (user + system, from /proc) once every answer is in, and its peak RSS.

States, none writing bytecode (PYTHONDONTWRITEBYTECODE=1), as on the local backend, where the worker runs as the
customer's own OS user and cannot write into the venv:
- **this checkout**: the venv and checkout as `make install` leaves them (compiled);
- **baseline**: the worker's Tallyhold sources at TALLYHOLD_BENCH_WORKER_BASELINE (a git revision, `main` by
  default; empty: no baseline), exported from this repository and compiled, put first on the worker's
  PYTHONPATH; the libraries are the venv's, the client side this checkout's;
- **forked**: each worker forked by the host's fork server (tallyhold/egress/forkserver.py), started once for the
  run, as the local backend's instances get theirs; its CPU is the worker's own after the fork, its own memory
  the pages it does not share with the server (USS);
- **without bytecode** (mix only): PYTHONPYCACHEPREFIX names a folder holding the standard library's bytecode
  only (written by a first run, then the venv's and checkout's parts removed), so every library and Tallyhold
  module is compiled from source at each start, as it was before `make install` compiled them.

Knob: TALLYHOLD_BENCH_WORKER_RUNS (starts per job and state, interleaved; 3 by default). Figures are medians.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.world import EXCHANGES, XPUB, World
from tallyhold.chains.catalog import token_location
from tallyhold.chains.tokenlist import curated_tokens
from tallyhold.chains.wire import TokenSpec, WalletBalancesRequest
from tallyhold.egress.client import EgressClient
from tallyhold.egress.protocol import EgressConfig
from tallyhold.exchanges.key import ExchangeKey
from tallyhold.exchanges.wire import BalancesRequest
from tallyhold.prices.wire import TickersReply, TickersRequest
from tallyhold.sources.models import SourceBalances
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_sandbox import RemoteControl
from tallyhold_sandbox.credentials import generate

PRICED = ["BTC", "ETH", "DOT", "USDC", "DAI"]
JOBS = {
    "mix": "2 exchanges, 3 Ethereum wallets, 1 zpub, prices",
    "exchanges": "2 exchanges, prices",
    "wallets": "3 Ethereum wallets, 1 zpub, prices",
}
TRACKER_SOURCES = "services/tracker/src"


@dataclass(frozen=True)
class Start:
    cpu_seconds: float
    peak_rss_mib: float
    own_mib: float  # USS at the end: the pages no other process shares (a forked worker shares the server's)


class Customer:
    """One customer's egress calls for a sync against `world`."""

    def __init__(self, world: World) -> None:
        assert world.anvil is not None
        self.config = EgressConfig(
            customer_id="t_00000000000000ff",
            log_level="WARNING",
            exchange_api_overrides=world.venues,
            evm_rpc={"ethereum": world.anvil.url},
            esplora_url=world.esplora_url,
            price_venues=["kraken", "binance"],
        )
        self.keys: dict[str, ExchangeKey] = {}
        for venue, balances in EXCHANGES.items():
            key = generate(venue)
            RemoteControl(world.venues[venue]).add_key(key.api_key, key.secret, balances=balances)
            self.keys[venue] = ExchangeKey(api_key=key.api_key, api_secret=key.secret)
        tokens = [
            TokenSpec(
                contract=t.contract, decimals=t.decimals, asset=t.asset, location=token_location(t.symbol, t.asset)
            )
            for t in curated_tokens("ethereum")
        ]
        self.wallets = [WalletBalancesRequest(chain="ethereum", address=a, tokens=tokens) for a in world.wallets[:3]]
        self.xpub = WalletBalancesRequest(chain="bitcoin", xpub=XPUB.extended_public_key)

    async def sync(self, job: str, forkserver: Path | None = None) -> Start:
        client = EgressClient(self.config, forkserver=forkserver)
        try:
            calls: list[Awaitable[object]] = []
            if job in ("mix", "exchanges"):
                calls += [
                    client.call(
                        "exchange.balances", BalancesRequest(exchange=v, key=k, check_permissions=False), SourceBalances
                    )
                    for v, k in self.keys.items()
                ]
            if job in ("mix", "wallets"):
                calls += [
                    client.call("chain.balances", wallet, SourceBalances) for wallet in [*self.wallets, self.xpub]
                ]
            calls.append(
                client.call(
                    "prices.tickers",
                    TickersRequest(venues=["kraken", "binance"], assets=PRICED, quote="USD"),
                    TickersReply,
                )
            )
            answers = await asyncio.gather(*calls)
            if any(isinstance(a, SourceBalances) and not a.balances for a in answers):
                raise RuntimeError("a source answered no balances: the sync did not run as a customer's would")
            assert client.worker_pid is not None
            worker = psutil.Process(client.worker_pid)
            times = worker.cpu_times()
            peak = _peak_rss_mib(client.worker_pid)
            own = worker.memory_full_info().uss / 2**20
            if forkserver is not None and worker.ppid() == os.getpid():
                raise RuntimeError("the fork server gave no worker: this one was started by the client")
        finally:
            await client.aclose()
        return Start(times.user + times.system, peak, own)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Sets (None: unsets) these for the block; the worker inherits them (EgressClient passes Python's own
    settings on)."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set(name, value)


def _set(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def standard_library_only(prefix: Path) -> None:
    """Leaves in `prefix` (a PYTHONPYCACHEPREFIX folder, which mirrors absolute paths) only the bytecode of
    what is neither the venv nor the checkout: the standard library's."""
    for ours in {checkout_root(), Path(sys.prefix).resolve()}:
        shutil.rmtree(prefix / ours.relative_to(ours.anchor), ignore_errors=True)


def _resolves(revision: str) -> bool:
    found = subprocess.run(
        ["git", "-C", str(checkout_root()), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
    )
    return found.returncode == 0


def export_baseline(revision: str, folder: Path) -> Path:
    """The tracker's sources at `revision`, compiled (as `make install` compiles the checkout's): the folder to put
    first on the worker's PYTHONPATH."""
    archive = subprocess.run(
        ["git", "-C", str(checkout_root()), "archive", revision, TRACKER_SOURCES],
        capture_output=True,
        check=True,
    ).stdout
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    sources = folder / TRACKER_SOURCES
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(sources)], check=True)
    return sources


def start_forkserver(path: Path) -> subprocess.Popen[bytes]:
    """The host's fork server (tallyhold/egress/forkserver.py) on `path`, ready (its socket bound)."""
    server = subprocess.Popen([sys.executable, "-P", "-m", "tallyhold.egress.forkserver", str(path)])
    deadline = time.monotonic() + 60
    while not path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the egress fork server did not start")
        time.sleep(0.1)
    return server


def _median(starts: list[Start]) -> tuple[float, float]:
    return statistics.median(s.cpu_seconds for s in starts), statistics.median(s.peak_rss_mib for s in starts)


def main() -> None:
    runs = int(os.environ.get("TALLYHOLD_BENCH_WORKER_RUNS", "3"))
    revision = os.environ.get("TALLYHOLD_BENCH_WORKER_BASELINE", "main")
    print(f"load {os.getloadavg()[0]:.2f}; {runs} worker starts per job and state, interleaved; baseline {revision!r}")
    starts: dict[tuple[str, str], list[Start]] = {}
    with tempfile.TemporaryDirectory(prefix="th-bench-worker-") as tmp:
        states: dict[str, dict[str, str | None]] = {"this checkout": {}}
        if revision and not _resolves(revision):
            print(f"baseline {revision!r} is no commit of this repository: no baseline measured")
        elif revision:
            baseline = export_baseline(revision, Path(tmp) / "baseline")
            states["baseline"] = {"PYTHONPATH": str(baseline)}
        world = World(Path(tmp)).start()
        server = Path(tmp) / "forkserver.sock"
        forkserver = start_forkserver(server)
        try:
            customer = Customer(world)
            prefix = Path(tmp) / "pycache"
            with environment(PYTHONPYCACHEPREFIX=str(prefix), PYTHONDONTWRITEBYTECODE=None):
                asyncio.run(customer.sync("mix"))  # writes every module's bytecode into the prefix
            standard_library_only(prefix)
            for _ in range(runs):
                with environment(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=None):
                    for job in JOBS:
                        for state, env in states.items():
                            with environment(**env):
                                starts.setdefault((job, state), []).append(asyncio.run(customer.sync(job)))
                        forked = asyncio.run(customer.sync(job, forkserver=server))
                        starts.setdefault((job, "forked"), []).append(forked)
                    with environment(PYTHONPYCACHEPREFIX=str(prefix)):
                        starts.setdefault(("mix", "without bytecode"), []).append(asyncio.run(customer.sync("mix")))
        finally:
            forkserver.terminate()
            forkserver.wait()
            world.stop()
    for job, what in JOBS.items():
        cpu, rss = _median(starts[(job, "this checkout")])
        own = statistics.median(s.own_mib for s in starts[(job, "this checkout")])
        line = f"{job} ({what}): worker start + sync CPU {cpu:.2f} s, peak RSS {rss:.0f} MiB, own {own:.0f} MiB"
        if (job, "baseline") in starts:
            base_cpu, base_rss = _median(starts[(job, "baseline")])
            line += f"; baseline {base_cpu:.2f} s, {base_rss:.0f} MiB ({base_cpu / cpu:.2f}× the CPU)"
        print(line)
        forked_cpu, forked_rss = _median(starts[(job, "forked")])
        forked_own = statistics.median(s.own_mib for s in starts[(job, "forked")])
        print(
            f"  forked by the fork server: CPU {forked_cpu:.2f} s ({cpu / forked_cpu:.2f}× less), peak RSS "
            f"{forked_rss:.0f} MiB, own {forked_own:.0f} MiB ({own / forked_own:.2f}× less)"
        )
    cpu_with, _ = _median(starts[("mix", "this checkout")])
    cpu_without, rss_without = _median(starts[("mix", "without bytecode")])
    print(
        f"mix without bytecode: CPU {cpu_without:.2f} s ({cpu_without / cpu_with:.2f}× with), peak RSS "
        f"{rss_without:.0f} MiB"
    )
    print(
        f"per customer and 5-minute interval on 2 cores at 200 customers, the budget is 3.00 s of CPU for "
        f"everything; the mix's worker alone takes {cpu_with:.2f} s of it; load {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
