"""Running the Esplora sandbox: in a background thread (tests, benches) or as a process (`python -m
tallyhold_sandbox.esplora`, and `tallyhold-sandbox esplora` when the sandbox CLI has the hook)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
from pathlib import Path

from aiohttp import web

from tallyhold_sandbox.esplora.app import create_app
from tallyhold_sandbox.esplora.state import EsploraState


class EsploraSandbox:
    """`with EsploraSandbox() as sandbox: sandbox.url, sandbox.state` — served from its own thread and loop."""

    def __init__(self, state: EsploraState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or EsploraState()
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="esplora-sandbox", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EsploraSandbox:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Esplora sandbox did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> EsploraSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(create_app(self.state), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]


def load_seed(state: EsploraState, path: Path) -> None:
    """Seed file: `{"outputs": [{"address": ..., "sats": ..., "confirmed": true}, ...]}`."""
    seed = json.loads(path.read_text())
    for item in seed.get("outputs", []):
        state.fund(str(item["address"]), int(item["sats"]), confirmed=bool(item.get("confirmed", True)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--seed", type=Path, help="JSON file of outputs to fund at start")


def serve(args: argparse.Namespace) -> None:
    """Run until SIGTERM/SIGINT; prints `esplora: <url>` once listening."""
    state = EsploraState()
    if args.seed is not None:
        load_seed(state, args.seed)

    async def run() -> None:
        runner = web.AppRunner(create_app(state), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, args.host, args.port).start()
        port = runner.addresses[0][1]
        print(f"esplora: http://{args.host}:{port}", flush=True)  # noqa: T201 - the process's one output line
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(run())
