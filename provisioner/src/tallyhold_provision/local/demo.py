"""The demo platform of `make run`: the sandbox exchange venues and a local chain, as supervisord programs of
the state folder, and the demo customer's holdings.

    <state>/sandbox/seed.json    the venues' seed: a read-only Binance demo key with balances (0600, made once,
                                 so the key the demo customer stored keeps working on every later run)
    <state>/sandbox/ports.json   the venues' URLs (written by `tallyhold-sandbox serve`, reused next time)
    <state>/anvil/state.json     the chain's state (anvil dumps it when it stops and loads it at start)
    <state>/anvil/port
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.files import read_json, write_private
from tallyhold_provision.local.ports import host_url, remembered_port
from tallyhold_provision.local.supervisor import Program, Supervisor

SANDBOX_PROGRAM = "platform-sandbox"
ANVIL_PROGRAM = "platform-anvil"
DEMO_VENUE = "binance"
# The second account of anvil's well-known test mnemonic: a public address anyone can look up, nothing secret.
DEMO_WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEMO_WALLET_WEI = 2_500_000_000_000_000_000  # 2.5 ETH
DEMO_TOKENS = {"USDC": Decimal("1500"), "WETH": Decimal("0.75")}  # both priced by the sandbox venues
DEMO_HOLDINGS = (
    {"label": "Cash savings", "asset": "USD", "amount": "2500.00"},
    {"label": "Gold coins", "asset": "XAU", "amount": "2", "price": "2000.50"},
)
START_TIMEOUT_SECONDS = 60.0


class DemoError(RuntimeError):
    """A demo service did not come up; the message names its log."""


def _wait(check: Any, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        result = check()
        if result:
            return
        if time.monotonic() > deadline:
            raise DemoError(f"{what} did not start within {START_TIMEOUT_SECONDS:.0f} s; see {log}")
        time.sleep(0.1)


@dataclass
class Venues:
    root: Path
    supervisor: Supervisor
    logs: Path
    host: str = "127.0.0.1"  # 0.0.0.0 when the demo runs in a container (pods reach the host's address)

    def ensure(self) -> dict[str, str]:
        """Run the venues (all of them: the demo prices assets on several); their URLs by ccxt id."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        seed = self.root / "seed.json"
        if not seed.exists():
            made = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
                [_script("tallyhold-sandbox"), "example-seed", "--venue", DEMO_VENUE],
                capture_output=True,
                text=True,
                check=True,
            )
            write_private(seed, made.stdout)
        ports = self.root / "ports.json"
        log = self.logs / "sandbox.log"
        self.supervisor.put(
            Program(
                name=SANDBOX_PROGRAM,
                command=[
                    *(_script("tallyhold-sandbox"), "serve", "--host", self.host),
                    *("--seed", str(seed), "--ports-file", str(ports)),
                ],
                directory=self.root,
                log_file=log,
                autostart=True,
            )
        )
        self.supervisor.start_program(SANDBOX_PROGRAM)

        def ready() -> dict[str, str] | None:
            record = read_json(ports)
            pid = self.supervisor.pid(SANDBOX_PROGRAM)
            if record is None or pid is None or record.get("pid") != pid:
                return None  # not yet written by the running process (or left over from the last run)
            # URLs as this host reaches them (the podman backend rewrites loopback URLs for its pods).
            return {str(k): host_url(str(v)) for k, v in record["overrides"].items()}

        _wait(ready, "the sandbox venues", log)
        urls = ready()
        assert urls is not None
        return urls

    def demo_key(self) -> dict[str, str]:
        seed = read_json(self.root / "seed.json") or {}
        spec = seed["venues"][DEMO_VENUE]["keys"][0]
        return {"api_key": str(spec["api_key"]), "api_secret": str(spec["secret"])}


@dataclass
class Chain:
    root: Path
    supervisor: Supervisor
    logs: Path
    host: str = "127.0.0.1"  # 0.0.0.0 when the demo runs in a container

    def ensure(self) -> str:
        """Run anvil (chain id 1: it stands in for Ethereum) and fund the demo wallet; its RPC URL."""
        self.root.mkdir(parents=True, exist_ok=True)
        port = (
            int((self.root / "port").read_text())
            if self.supervisor.state(ANVIL_PROGRAM) == "RUNNING" and (self.root / "port").exists()
            else remembered_port(self.root / "port")
        )
        url = f"http://127.0.0.1:{port}"
        log = self.logs / "anvil.log"
        command = [
            str(_anvil()),
            "--host", self.host,
            "--port", str(port),
            "--chain-id", "1",
            "--state", str(self.root / "state.json"),
            "--silent",
        ]  # fmt: skip
        self.supervisor.put(Program(ANVIL_PROGRAM, command, self.root, log, autostart=True, stop_signal="INT"))
        self.supervisor.start_program(ANVIL_PROGRAM)
        _wait(lambda: _rpc(url, "eth_chainId") is not None, "anvil", log)
        # Idempotent: the balance is set, not added, on every run.
        _rpc(url, "anvil_setBalance", [DEMO_WALLET, hex(DEMO_WALLET_WEI)])
        place_tokens(url)
        return url


def place_tokens(url: str) -> None:
    """Give every curated Ethereum token working code at its mainnet address (the project's TallyToken, with that
    token's symbol and decimals, which are immutables and so travel with the code), as the wallet sync reads
    them all; then mint the demo wallet its token holdings. Only what is missing is done: anvil keeps its state
    between runs."""
    from web3 import Web3

    from tallyhold.chains.tokenlist import curated_tokens

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    artifact = json.loads((checkout_root() / "contracts" / "build" / "TallyToken.json").read_text())
    deployer = w3.eth.accounts[0]
    wallet = Web3.to_checksum_address(DEMO_WALLET)
    for token in curated_tokens("ethereum"):
        address = Web3.to_checksum_address(token.contract)
        if len(w3.eth.get_code(address)) == 0:
            factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
            tx = factory.constructor(token.symbol, token.symbol, token.decimals).transact({"from": deployer})
            deployed = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
            code = w3.eth.get_code(Web3.to_checksum_address(str(deployed)))
            w3.provider.make_request("anvil_setCode", [address, code.to_0x_hex()])  # type: ignore[arg-type]  # web3's RPCEndpoint is a str
        wanted = DEMO_TOKENS.get(token.symbol)
        if wanted is None:
            continue
        contract = w3.eth.contract(address=address, abi=artifact["abi"])
        units = int(wanted.scaleb(token.decimals))
        held = int(contract.functions.balanceOf(wallet).call())
        if held < units:
            w3.eth.wait_for_transaction_receipt(
                contract.functions.mint(wallet, units - held).transact({"from": deployer})
            )


def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    try:
        response = httpx.post(url, json=body, timeout=5)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return response.json().get("result")


def _script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _anvil() -> Path:
    found = sorted((checkout_root() / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if not found:
        raise DemoError("anvil is not installed in node_modules: run `make install`")
    return found[0]


def seed_customer(url: str, token: str, venue_key: dict[str, str]) -> list[str]:
    """Give the demo customer its holdings once: an exchange connection to the sandbox venue, the funded wallet,
    and two manual holdings. Each is added only when no connection of that label exists (reruns add nothing).
    A holding the instance refuses (say, the operator routed Binance elsewhere, where the sandbox key means
    nothing) is not fatal: the others are still added, and the refusals are returned as sentences."""
    headers = {"Authorization": f"Bearer {token}"}
    refused: list[str] = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        existing = client.get("/v1/connections")
        existing.raise_for_status()
        items = existing.json()
        labels = {c["label"] for c in (items["items"] if isinstance(items, dict) else items)}
        wanted: list[tuple[str, dict[str, Any]]] = [
            ("/v1/connections/exchange", {"exchange": DEMO_VENUE, "label": "Binance (sandbox)", **venue_key}),
            ("/v1/connections/wallet", {"chain": "ethereum", "address": DEMO_WALLET, "label": "Ethereum wallet"}),
            *(("/v1/connections/manual", holding) for holding in DEMO_HOLDINGS),
        ]
        added = False
        for path, body in wanted:
            if body["label"] in labels:
                continue
            try:
                response = client.post(path, json=body)
            except httpx.HTTPError as exc:
                refused.append(f"the demo customer's {body['label']!r} was not added ({type(exc).__name__})")
                continue
            if response.status_code != 201:
                refused.append(f"the demo customer's {body['label']!r} was refused: {_error_of(response)}")
                continue
            added = True
        if added:
            client.post("/v1/sync").raise_for_status()
    return refused


def _error_of(response: httpx.Response) -> str:
    """The instance's error code and message (they never carry the request, so never the key)."""
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def demo_wallet_eth() -> Decimal:
    return Decimal(DEMO_WALLET_WEI).scaleb(-18)


def overrides_json(urls: dict[str, str]) -> str:
    return json.dumps(urls, sort_keys=True)
