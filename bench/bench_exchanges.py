"""Exchange sync: 10 exchange connections (2 keys on each of the 5 sandbox venues) synced by a real instance,
against a bare ccxt `fetch_balance` loop over the same keys in the same run; and the instance's memory.

Everything runs for real: embedded Postgres, OpenBao, a customer provisioned with the local backend
(supervised `tallyhold serve`), the sandbox venues in their own process (`tallyhold-sandbox serve`), the
connections created through `POST /v1/connections/exchange` (the exchange proves each key read-only).

Sync: `POST /v1/sync` until `/v1/sync/status` is idle: decrypt (Vault), the permission re-check, every wallet
of every venue, the database writes. Warm rounds (the egress worker already running) are the comparison; the
first (cold: worker start and ccxt import) is shown apart. Bare: for each key, a fresh ccxt exchange object,
`fetch_balance()`, `close()` (ccxt defaults; one spot balance per venue, no permission check), in a loop, and
also all ten at once. Both sides use ccxt's default request throttle.
Memory: the instance (API process) idle, with no egress worker; the egress worker at its peak during a sync.
Targets (issue 4): sync within 1.2× the bare-ccxt loop; idle instance ≤ 90 MiB RSS.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.sandbox import instance_environ, start_sandbox
from tallyhold_provision.config import ProvisionerSettings
from tallyhold_provision.factory import build
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_sandbox import RemoteControl
from tallyhold_sandbox.credentials import generate
from tallyhold_sandbox.urls import override_api_urls

ROUNDS = 5
KEYS_PER_VENUE = 2
TARGET_RATIO = 1.2
TARGET_IDLE_MIB = 90.0
WALLETS: dict[str, dict[str, dict[str, str]]] = {
    "binance": {
        "spot": {"BTC": "0.25", "USDT": "1500", "ETH": "2"},
        "funding": {"USDT": "50"},
        "earn_flexible": {"USDT": "500"},
        "earn_locked": {"ETH": "1"},
        "staking": {"DOT": "10"},
        "margin": {"BTC": "0.01"},
        "usdm": {"USDT": "100"},
        "coinm": {"BTC": "0.1"},
    },
    "bybit": {
        "unified": {"ETH": "1.5", "USDT": "800"},
        "fund": {"USDC": "250"},
        "earn_flexible": {"USDT": "40"},
        "earn_onchain": {"ETH": "0.5"},
    },
    "coinbase": {"spot": {"BTC": "0.1", "USD": "2000", "ETH": "1"}, "vault": {"ETH": "0.5"}},
    "kraken": {"spot": {"BTC": "0.05", "EUR": "1000"}, "staked": {"DOT": "120"}, "flexible": {"USDC": "30"}},
    "okx": {
        "trading": {"SOL": "12", "USDT": "300"},
        "funding": {"USDC": "150"},
        "savings": {"USDT": "400"},
        "staking": {"DOT": "5"},
    },
}


def _mib(value: float) -> str:
    return f"{value / 2**20:.1f} MiB"


class Sampler:
    """Peak RSS of the API process and of its children (the egress worker) while a sync runs."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.api_peak = 0
        self.worker_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.api_peak = max(self.api_peak, self.process.memory_info().rss)
                for child in self.process.children(recursive=True):
                    self.worker_peak = max(self.worker_peak, child.memory_info().rss)
            except psutil.Error:
                pass
            self._stop.wait(0.02)


def _keys(urls: dict[str, str]) -> list[tuple[str, Any]]:
    keys = []
    for venue, wallets in WALLETS.items():
        control = RemoteControl(urls[venue])
        for _ in range(KEYS_PER_VENUE):
            credentials = generate(venue)
            control.add_key(
                credentials.api_key, credentials.secret, passphrase=credentials.passphrase, balances=wallets
            )
            keys.append((venue, credentials))
    return keys


async def _bare(urls: dict[str, str], keys: list[tuple[str, Any]], *, concurrent: bool, throttle: bool = True) -> float:
    import ccxt.async_support as ccxt_async

    async def one(venue: str, credentials: Any) -> None:
        exchange = getattr(ccxt_async, venue)({**credentials.ccxt(), "enableRateLimit": throttle})
        exchange.urls["api"] = override_api_urls(exchange.urls["api"], urls[venue])
        try:
            await exchange.fetch_balance()
        finally:
            await exchange.close()

    started = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(one(venue, c) for venue, c in keys))
    else:
        for venue, credentials in keys:
            await one(venue, credentials)
    return time.perf_counter() - started


def _sync(client: httpx.Client) -> float:
    started = time.perf_counter()
    assert client.post("/v1/sync").status_code == 202
    while client.get("/v1/sync/status").json()["running"]:
        time.sleep(0.01)
    took = time.perf_counter() - started
    sources = client.get("/v1/sync/status").json()["sources"]
    failed = [s for s in sources if s.get("last_error")]
    if failed or len(sources) != len(WALLETS) * KEYS_PER_VENUE:
        raise RuntimeError(f"sync failed for {len(failed)} of {len(sources)} sources: {failed[:2]}")
    return took


def _wait_worker_gone(pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while psutil.Process(pid).children(recursive=True):
        if time.monotonic() > deadline:
            raise RuntimeError("the egress worker did not exit when idle")
        time.sleep(0.1)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="th-bench-ex-") as tmp:
        folder = Path(tmp)
        sandbox, urls = start_sandbox(folder)
        platform = LocalPlatform(folder / "state")
        platform.ensure_postgres()
        platform.ensure_openbao()
        environ = instance_environ(
            urls,
            SYNC_CONCURRENCY="10",
            SYNC_VENUE_CONCURRENCY=str(KEYS_PER_VENUE),
            EGRESS_IDLE_SECONDS="5",
            PRICE_VENUES="binance",
        )
        provisioner = build(ProvisionerSettings(STATE_DIR=folder / "state"), environ=environ)
        try:
            created = provisioner.create("bench-exchanges", backend="local")
            customer = created.customer
            if customer.url is None or created.token is None:
                raise RuntimeError("the customer was not created with a URL and a first token")
            pid = platform.supervisor.pid(customer.id)
            if pid is None:
                raise RuntimeError("the instance is not running")
            keys = _keys(urls)
            headers = {"Authorization": f"Bearer {created.token}"}
            with httpx.Client(base_url=customer.url, headers=headers, timeout=120) as client:
                for index, (venue, credentials) in enumerate(keys):
                    body = {
                        "exchange": venue,
                        "label": f"{venue} {index}",
                        "api_key": credentials.api_key,
                        "api_secret": credentials.secret,
                    }
                    if credentials.passphrase:
                        body["passphrase"] = credentials.passphrase
                    response = client.post("/v1/connections/exchange", json=body)
                    if response.status_code != 201:
                        raise RuntimeError(f"{venue}: {response.status_code} {response.json()['error']['code']}")
                print(f"{len(keys)} exchange connections ({KEYS_PER_VENUE} per venue: {', '.join(WALLETS)})")

                _wait_worker_gone(pid)
                time.sleep(1.0)
                idle = psutil.Process(pid).memory_info().rss
                ccxt_loaded = "ccxt" in " ".join(psutil.Process(pid).cmdline())  # never: shown for the record
                print(
                    f"idle instance (API process, no egress worker): {_mib(idle)} RSS "
                    f"(target ≤ {TARGET_IDLE_MIB:.0f} MiB: {'met' if idle / 2**20 <= TARGET_IDLE_MIB else 'MISSED'})"
                    f"{' ccxt in argv?!' if ccxt_loaded else ''}"
                )

                with Sampler(pid) as cold_sampler:
                    cold = _sync(client)
                warm = []
                with Sampler(pid) as sampler:
                    for _ in range(ROUNDS):
                        warm.append(_sync(client))
                items = client.get("/v1/balances").json()["items"]
                print(f"balances after sync: {len(items)} (asset, location, connection) rows")

            bare_loop = [asyncio.run(_bare(urls, keys, concurrent=False)) for _ in range(ROUNDS)]
            bare_gather = [asyncio.run(_bare(urls, keys, concurrent=True)) for _ in range(ROUNDS)]
            unthrottled = [asyncio.run(_bare(urls, keys, concurrent=False, throttle=False)) for _ in range(ROUNDS)]
            ours, loop, gather = statistics.median(warm), statistics.median(bare_loop), statistics.median(bare_gather)
            print(f"sync, cold (worker start + ccxt import): {cold * 1000:.0f} ms")
            print(
                f"sync, warm: median {ours * 1000:.0f} ms (min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f};"
                f" {ROUNDS} rounds)"
            )
            print(
                f"bare ccxt fetch_balance loop: median {loop * 1000:.0f} ms;"
                f" all ten at once: median {gather * 1000:.0f} ms;"
                f" loop without ccxt's throttle: median {statistics.median(unthrottled) * 1000:.0f} ms"
            )
            ratio = ours / loop
            verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
            print(
                f"ratio sync / bare loop: {ratio:.2f}× (target ≤ {TARGET_RATIO}×: {verdict}); "
                f"sync / bare concurrent: {ours / gather:.2f}×"
            )
            print(
                f"peak RSS during syncs: egress worker {_mib(max(sampler.worker_peak, cold_sampler.worker_peak))}, "
                f"API process {_mib(max(sampler.api_peak, cold_sampler.api_peak))}"
            )
        finally:
            provisioner.close()
            platform.supervisor.shutdown()
            platform.openbao.stop()
            platform.postgres.stop()
            sandbox.terminate()
            sandbox.wait(10)


if __name__ == "__main__":
    main()
