"""The outside world a realistic customer syncs from, for the capacity bench: the sandbox exchange venues, anvil
with the curated ERC-20 tokens at their mainnet addresses, and the Esplora sandbox, each in its own process at
the lowest CPU priority (they stand in for remote systems, whose CPU is not the host's). And one customer's mix:
2 exchange accounts (Binance, Kraken), 3 Ethereum wallets holding ETH and tokens, 1 Bitcoin zpub, 2 manual
holdings, all added through the instance's API as a customer would.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil
from web3 import Web3

from bench.sandbox import instance_environ, start_sandbox
from tallyhold.chains.tokenlist import curated_tokens
from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.demo import place_tokens
from tallyhold_provision.local.platform import LocalPlatform
from tallyhold_provision.local.ports import LOOPBACK, host_url
from tallyhold_sandbox import RemoteControl
from tallyhold_sandbox.credentials import generate
from tests.fixtures.chain import Anvil
from tests.fixtures.esplora import SeedWallet

EXCHANGES: dict[str, dict[str, dict[str, str]]] = {
    "binance": {
        "spot": {"BTC": "0.25", "USDT": "1500", "ETH": "2"},
        "funding": {"USDT": "50"},
        "earn_flexible": {"USDT": "500"},
        "staking": {"DOT": "10"},
    },
    "kraken": {"spot": {"BTC": "0.05", "EUR": "1000"}, "staked": {"DOT": "120"}, "flexible": {"USDC": "30"}},
}
WALLETS_PER_CUSTOMER = 3
# Customers share a small pool of funded addresses (each instance reads its own three): funding one address per
# customer would make the set-up, not the host, the slow part.
WALLET_POOL = 12
WALLET_TOKENS = {"USDC": Decimal("1500"), "WETH": Decimal("0.75"), "DAI": Decimal("320")}
XPUB = SeedWallet("zpub")
XPUB_FUNDED = 3  # receive addresses 0..2 hold coins; the scan runs to the gap limit past them
MANUAL = (
    {"label": "Cash savings", "asset": "USD", "amount": "2500.00"},
    {"label": "Gold coins", "asset": "XAU", "amount": "2", "price": "2000.50"},
)
SOURCES_PER_CUSTOMER = len(EXCHANGES) + WALLETS_PER_CUSTOMER + 1 + len(MANUAL)


def _lowest_priority(pid: int) -> None:
    psutil.Process(pid).nice(19)


def _pool_address(index: int) -> str:
    return Web3.to_checksum_address(hashlib.sha256(f"capacity-wallet-{index}".encode()).digest()[:20])


def _fund_wallets(url: str) -> list[str]:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    abi = json.loads((checkout_root() / "contracts" / "build" / "TallyToken.json").read_text())["abi"]
    tokens = {t.symbol: t for t in curated_tokens("ethereum") if t.symbol in WALLET_TOKENS}
    deployer = w3.eth.accounts[0]
    addresses = [_pool_address(i) for i in range(WALLET_POOL)]
    for index, address in enumerate(addresses):
        w3.provider.make_request("anvil_setBalance", [address, hex(10**18 + index)])  # type: ignore[arg-type]  # web3's RPCEndpoint is a str
        for symbol, amount in WALLET_TOKENS.items():
            token = tokens[symbol]
            contract = w3.eth.contract(address=Web3.to_checksum_address(token.contract), abi=abi)
            units = int(amount.scaleb(token.decimals))
            w3.eth.wait_for_transaction_receipt(contract.functions.mint(address, units).transact({"from": deployer}))
    return addresses


# A key check told its turn is further off than it waits is sent again after Retry-After, this many times at most.
BUSY_RETRIES = 3
# A key check the venue did not answer (502 `exchange_unavailable`, which the API says to try again: a venue call
# timed out on a loaded host) is sent again after UNAVAILABLE_PAUSE seconds, this many times at most, as a
# customer would; one refused after that stops the bench.
UNAVAILABLE_RETRIES, UNAVAILABLE_PAUSE = 3, 10.0


@dataclass
class World:
    folder: Path
    listen: str = LOOPBACK  # where the fakes listen (`listen_address`: every address for podman pods)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    anvil: Anvil | None = None
    venues: dict[str, str] = field(default_factory=dict)
    wallets: list[str] = field(default_factory=list)
    esplora_url: str = ""
    # Key checks answered `exchange_budget_busy` (the egress pool's turn further off than a check waits) and
    # sent again after their Retry-After, as a customer would.
    busy_key_checks: int = 0
    unavailable_key_checks: int = 0  # answered `exchange_unavailable` and sent again

    def start(self) -> World:
        sandbox, self.venues = start_sandbox(self.folder, niceness=19, host=self.listen)
        self.processes.append(sandbox)
        self.anvil = Anvil(chain_id=1, host=self.listen).start()
        assert self.anvil.process is not None
        _lowest_priority(self.anvil.process.pid)
        place_tokens(self.anvil.url)
        self.wallets = _fund_wallets(self.anvil.url)
        self.esplora_url = self._start_esplora()
        return self

    def _start_esplora(self) -> str:
        seed = self.folder / "esplora-seed.json"
        outputs = [{"address": XPUB.address(0, i), "sats": 1_000_000 * (i + 1)} for i in range(XPUB_FUNDED)]
        seed.write_text(json.dumps({"outputs": outputs}))
        command = [str(Path(sys.executable).parent / "tallyhold-sandbox"), "esplora", "--seed", str(seed)]
        command += ["--host", self.listen]
        process = subprocess.Popen(["nice", "-n", "19", *command], stdout=subprocess.PIPE, text=True)
        self.processes.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("esplora: "):
            raise RuntimeError("the Esplora sandbox did not start")
        return host_url(line.removeprefix("esplora: ").strip())

    def instance_environment(self, **settings: str) -> dict[str, str]:
        """What every instance is started with to reach this world instead of the real one, its scheduler on;
        `settings`, by flat name, add or replace. The URLs are this host's loopback ones: the podman backend
        gives its pods the host's address on their network in their place."""
        assert self.anvil is not None
        return instance_environ(
            self.venues,
            SYNC_SCHEDULER="true",
            EVM_RPC_ETHEREUM=self.anvil.url,
            ESPLORA_URL=self.esplora_url,
            **settings,
        )

    def seed_customer(self, url: str, token: str, number: int) -> None:
        """The customer's mix, through the API (each exchange key is proven read-only by the venue); then a sync."""
        bodies: list[tuple[str, dict[str, Any]]] = []
        for venue, wallets in EXCHANGES.items():
            key = generate(venue)
            RemoteControl(self.venues[venue]).add_key(key.api_key, key.secret, balances=wallets)
            body = {"exchange": venue, "label": venue, "api_key": key.api_key, "api_secret": key.secret}
            bodies.append(("/v1/connections/exchange", body))
        for k in range(WALLETS_PER_CUSTOMER):
            address = self.wallets[(number * WALLETS_PER_CUSTOMER + k) % len(self.wallets)]
            bodies.append(("/v1/connections/wallet", {"chain": "ethereum", "address": address, "label": f"eth {k}"}))
        bodies.append(("/v1/connections/wallet", {"chain": "bitcoin", "xpub": XPUB.extended_public_key}))
        bodies.extend(("/v1/connections/manual", holding) for holding in MANUAL)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            for path, body in bodies:
                response = client.post(path, json=body)
                busy, unavailable = BUSY_RETRIES, UNAVAILABLE_RETRIES
                while response.status_code != 201:
                    code = response.json()["error"]["code"]
                    if code == "exchange_budget_busy" and busy:
                        busy, self.busy_key_checks = busy - 1, self.busy_key_checks + 1
                        time.sleep(int(response.headers["Retry-After"]))
                    elif code == "exchange_unavailable" and unavailable:
                        unavailable, self.unavailable_key_checks = unavailable - 1, self.unavailable_key_checks + 1
                        time.sleep(UNAVAILABLE_PAUSE)
                    else:
                        break
                    response = client.post(path, json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"{path} refused: {response.json()['error']['code']}")
            client.post("/v1/sync").raise_for_status()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.anvil is not None:
            self.anvil.stop()


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="th-bench-capacity-")


def remove_platform(provisioner: Any, platform: LocalPlatform) -> list[str]:
    """Destroys every customer `provisioner` made (when it was built; one that fails to go, said on stdout, does
    not keep the others), then stops the platform's daemons. Returns the ids of every customer it found."""
    found: list[str] = []
    try:
        if provisioner is not None:
            for customer in provisioner.customers():
                try:
                    provisioner.destroy(customer.slug)
                except Exception as exc:  # the next customers and the daemons must still go
                    print(f"could not destroy {customer.slug}: {type(exc).__name__}: {exc}", flush=True)
                found.append(customer.id)
            provisioner.close()
    finally:
        platform.supervisor.shutdown()
        platform.openbao.stop()
        platform.postgres.stop()
    return found
