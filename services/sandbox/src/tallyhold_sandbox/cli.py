"""`tallyhold-sandbox`: run the sandbox venues as a process (for `make run`, under a supervisor).

    tallyhold-sandbox serve [--venue NAME ...] [--seed FILE] [--host 127.0.0.1] [--port NAME=PORT ...]
                            [--ports-file FILE]
    tallyhold-sandbox example-seed [--venue NAME ...]
    tallyhold-sandbox esplora [--host 127.0.0.1] [--port P] [--seed FILE]     (Bitcoin; prints `esplora: <url>`)

`serve` prints one `<venue>: <base url>` line per venue, then `overrides: <json>` (the value for
TALLYHOLD_EXCHANGE_API_OVERRIDES), and writes the same to `--ports-file` as JSON. When that file exists from an
earlier run, its ports are taken again when free, so a restarted sandbox keeps its URLs. SIGTERM/SIGINT stop it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from tallyhold_sandbox.credentials import generate
from tallyhold_sandbox.esplora import server as esplora_server
from tallyhold_sandbox.server import Sandbox
from tallyhold_sandbox.venues import VENUES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tallyhold-sandbox", description="Wire-faithful sandbox exchange venues.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the venues until SIGTERM/SIGINT")
    serve.add_argument("--venue", action="append", choices=sorted(VENUES), help="a venue to run (default: all)")
    serve.add_argument("--seed", type=Path, help="JSON seed file: keys, balances, tickers and faults per venue")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", action="append", default=[], metavar="NAME=PORT", help="pin a venue's port")
    serve.add_argument("--ports-file", type=Path, help="where to record (and next time reuse) the venues' ports")
    seed = commands.add_parser("example-seed", help="print a seed file with fresh credentials for each venue")
    seed.add_argument("--venue", action="append", choices=sorted(VENUES), help="a venue to include (default: all)")
    esplora = commands.add_parser("esplora", help="run the Esplora (Bitcoin) sandbox until SIGTERM/SIGINT")
    esplora_server.add_arguments(esplora)
    return parser


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _ports(args: argparse.Namespace, venues: list[str]) -> dict[str, int]:
    ports: dict[str, int] = {}
    if args.ports_file is not None and args.ports_file.exists():
        try:
            recorded = json.loads(args.ports_file.read_text())["venues"]
        except (ValueError, KeyError, TypeError):
            recorded = {}
        for venue, entry in recorded.items():
            if venue in venues and isinstance(entry, dict) and _port_free(args.host, int(entry.get("port", 0))):
                ports[venue] = int(entry["port"])
    for pin in args.port:
        venue, _, port = pin.partition("=")
        if venue not in venues or not port.isdigit():
            raise SystemExit(f"--port expects NAME=PORT with NAME one of {venues}, not {pin!r}")
        ports[venue] = int(port)
    return ports


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


async def _serve(args: argparse.Namespace) -> None:
    venues = args.venue or sorted(VENUES)
    seed: dict[str, Any] = json.loads(args.seed.read_text()) if args.seed else {}
    sandbox = Sandbox(venues, host=args.host, ports=_ports(args, venues), seed=seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with sandbox:
        urls = sandbox.urls
        for venue, url in urls.items():
            print(f"{venue}: {url}")
        print(f"overrides: {sandbox.overrides_json()}", flush=True)
        if args.ports_file is not None:
            record = {
                "pid": os.getpid(),
                "venues": {v: {"url": u, "port": sandbox.servers[v].port} for v, u in urls.items()},
                "overrides": urls,
            }
            _write_atomically(args.ports_file, json.dumps(record, indent=2) + "\n")
        await stop.wait()


def _example_seed(args: argparse.Namespace) -> dict[str, Any]:
    balances = {
        "binance": {"spot": {"BTC": "0.25", "USDT": "1500"}, "earn_flexible": {"USDT": "500"}},
        "bybit": {"unified": {"ETH": "1.5", "USDT": "800"}, "fund": {"USDC": "250"}},
        "coinbase": {"spot": {"BTC": "0.1", "USD": "2000"}, "vault": {"ETH": "0.5"}},
        "kraken": {"spot": {"BTC": "0.05", "EUR": "1000"}, "staked": {"DOT": "120"}},
        "okx": {"trading": {"SOL": "12", "USDT": "300"}, "funding": {"USDC": "150"}, "savings": {"USDT": "400"}},
    }
    venues: dict[str, Any] = {}
    for venue in args.venue or sorted(VENUES):
        credentials = generate(venue)
        spec = credentials.key_spec(permissions=["read"], label="demo", balances=balances.get(venue, {}))
        venues[venue] = {"keys": [spec]}
    return {"venues": venues}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        asyncio.run(_serve(args))
    elif args.command == "example-seed":
        json.dump(_example_seed(args), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.command == "esplora":
        esplora_server.serve(args)


if __name__ == "__main__":
    main()
