"""The egress worker process: `python -m tallyhold.egress.worker`.

Reads the config line, then requests, from stdin; answers each on stdout as soon as it is done (requests run
concurrently); exits when stdin closes. After `idle_seconds` without work it announces `{"retiring": true}` and
keeps answering until the client, which stops sending to it on that line, closes stdin: a request written while
the worker decided to go is still answered, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from tallyhold import lazy_packages, lean_imports
from tallyhold.egress import budget, ccxt_packages, keyfile_bls
from tallyhold.egress.dispatch import dispatch
from tallyhold.egress.protocol import EgressConfig, EgressError
from tallyhold.logging import configure_logging

DEFAULT_IDLE_SECONDS = 20.0
# What of the environment a worker gets: what Python and TLS need to run, no TALLYHOLD_ variable (those hold the
# database URL and Vault credentials). A started worker gets its instance's `HOME` too.
WORKER_ENVIRONMENT = (
    "PATH",
    "LANG",
    "LC_ALL",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "VIRTUAL_ENV",
)


class Worker:
    def __init__(self, config: EgressConfig, idle_seconds: float) -> None:
        self.config = config
        self.idle_seconds = idle_seconds
        self.in_flight: set[asyncio.Task[None]] = set()
        self.write_lock = asyncio.Lock()
        self.budget = budget.PipeBudget(self._write)

    async def serve(self, reader: asyncio.StreamReader) -> None:
        budget.CURRENT.set(self.budget)  # every request's task starts from this context
        read = asyncio.ensure_future(reader.readline())
        retiring = False
        while True:
            done, _ = await asyncio.wait({read}, timeout=None if retiring else self.idle_seconds)
            if not done:
                if not self.in_flight:
                    retiring = True  # idle: ask to be let go (stdin closed), then give the memory back
                    await self._write({"retiring": True})
                continue
            line = read.result()
            if not line:
                break
            message = json.loads(line)
            read = asyncio.ensure_future(reader.readline())
            if "budget_reply" in message:
                self.budget.answer(message)
                continue
            task = asyncio.create_task(self._answer(message))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)
        self.budget.close()
        if self.in_flight:
            await asyncio.gather(*self.in_flight)

    async def _answer(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": message.get("id")}
        try:
            reply["result"] = await dispatch(str(message.get("op")), message.get("payload") or {}, self.config)
            reply["ok"] = True
        except EgressError as exc:
            reply["ok"] = False
            reply["error"] = exc.failure.model_dump(mode="json")
        await self._write(reply)

    async def _write(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        async with self.write_lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


async def _main(idle_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    first = await reader.readline()
    if not first:
        return
    config = EgressConfig.model_validate(json.loads(first)["config"])
    configure_logging(config.log_level)
    await Worker(config, idle_seconds).serve(reader)


# The worker's CPU (ccxt parsing, web3 decoding) is background work: on a small host it must never starve the
# API process, whose requests are what a customer waits on (bench/bench_api.py: latency while syncs run).
WORKER_NICENESS = 10


def lower_priority() -> None:
    """A lower weight (nice) and Linux's batch policy for the worker and the threads it starts later. Under
    SCHED_BATCH the worker still gets its fair share of the CPU, so a sync is never starved, but the scheduler
    treats it as CPU-bound: its wake-ups (a reply from an exchange, a line from the instance) never preempt the
    API process or Postgres on a busy core; it runs when they yield or at the end of their time slice. Unprivileged:
    a process may always lower its own priority."""
    os.nice(WORKER_NICENESS)
    # A sandbox that refuses the call (a seccomp profile without sched_setscheduler) leaves the nice value alone.
    with contextlib.suppress(PermissionError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def prepare_imports() -> None:
    """Before anything imports ccxt, web3, bip_utils, requests (ccxt's and web3's synchronous clients import it)
    or httpx (the Esplora client): what no call of the worker uses is never imported, CPU saved at every worker
    start."""
    lean_imports.leave_out_for_good()
    ccxt_packages.install()  # only the venues asked for get imported
    keyfile_bls.install()  # web3's import without py_ecc's BLS12-381 tables
    lazy_packages.install("bip_utils")  # the xpub scan's names only, not every coin's


def run(idle_seconds: float) -> None:
    """Serves its instance until stdin closes. Before: `lower_priority()`, and `prepare_imports()` (or the fork
    server's preload, tallyhold/egress/forkserver.py)."""
    asyncio.run(_main(idle_seconds))


def main() -> None:
    idle = float(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_IDLE_SECONDS
    lower_priority()
    prepare_imports()
    run(idle)


if __name__ == "__main__":
    main()
