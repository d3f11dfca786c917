"""The venv holds compiled bytecode for every library module an egress worker imports during a sync, fresh and
readable by all.

On the local backend the worker runs as the customer's own OS user, who cannot write `__pycache__` into the
venv: without bytecode made at install (`make install`: `uv sync --compile-bytecode`) each worker start, once
per customer and sync interval, compiles its ~1,600 modules from source again (about 2 s of CPU). The check runs
in a fresh interpreter that writes no bytecode (as that user cannot) and imports what a sync of Binance,
Kraken, Ethereum wallets and an xpub imports; every module it loaded from the venv's site-packages must have
had a valid `.pyc` to load instead of its source.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tallyhold.egress.operations import OPERATIONS
from tests.fixtures.bytecode import BYTECODE_CHECK

OPERATION_MODULES = sorted(
    {path.partition(":")[0] for op in OPERATIONS.values() for path in (op.request, op.reply, op.handler)}
)

# What the worker imports for a sync (its handlers import the venues' ccxt classes, web3 and the Esplora client
# when first called), then each module loaded from site-packages whose cached bytecode is missing, stale or
# unreadable.
CODE = (
    f"""
import importlib, importlib.machinery, importlib.util, json, os, stat, sys, sysconfig
from tallyhold.egress import worker
worker.prepare_imports()
for name in {OPERATION_MODULES!r} + ["tallyhold.chains.bitcoin", "tallyhold.chains.evm", "ccxt.base.types"]:
    importlib.import_module(name)
import ccxt.async_support
ccxt.async_support.binance, ccxt.async_support.kraken
"""
    + BYTECODE_CHECK
)


def test_every_library_module_a_sync_imports_has_fresh_bytecode_readable_by_all() -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    found = json.loads(done.stdout)
    # ccxt, web3, bip_utils, aiohttp, pydantic, ... (about 730 once the worker leaves out what its calls never use):
    # the check saw the worker's imports
    assert found["loaded"] > 600
    problems = found["problems"]
    assert problems == {}, f"{len(problems)} modules without usable bytecode (run `make install`): {problems}"
