"""The sandbox venues in their own process, for the benches that sync against them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tallyhold.settings import ENV_PREFIX
from tallyhold_provision.local.ports import LOOPBACK, host_url


def start_sandbox(
    folder: Path, *, niceness: int = 0, host: str = LOOPBACK
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Starts `tallyhold-sandbox serve` (its own process: it must not share a GIL with the code measured) and
    returns it with its `EXCHANGE_API_OVERRIDES` URLs, as this host reaches them. `niceness` > 0 lowers its CPU
    priority: the venues stand in for remote exchanges, whose CPU is not ours. `host`: where it listens
    (`listen_address`)."""
    ports = folder / "sandbox-ports.json"
    command = [str(Path(sys.executable).parent / "tallyhold-sandbox"), "serve", "--ports-file", str(ports)]
    command += ["--host", host]
    if niceness:
        command = ["nice", "-n", str(niceness), *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ports.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("the sandbox did not start")
        time.sleep(0.05)
    overrides: dict[str, str] = json.loads(ports.read_text())["overrides"]
    return process, {venue: host_url(url) for venue, url in overrides.items()}


def instance_environ(urls: dict[str, str], **settings: str) -> dict[str, str]:
    """The operator environment the benches' provisioned instances get: exchanges and prices at the sandbox
    venues (`urls` from `start_sandbox`), no scheduler (a bench times the syncs it starts itself), quiet logs.
    `settings`, by flat name (`PRICE_VENUES="binance"`), add or replace."""
    values = {
        "EXCHANGE_API_OVERRIDES": json.dumps(urls),
        "SYNC_SCHEDULER": "false",
        "LOG_LEVEL": "WARNING",
        "PRICE_VENUES": "kraken,binance",
        **settings,
    }
    return {ENV_PREFIX + name: value for name, value in values.items()}
