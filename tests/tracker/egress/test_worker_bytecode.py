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

OPERATION_MODULES = sorted(
    {path.partition(":")[0] for op in OPERATIONS.values() for path in (op.request, op.reply, op.handler)}
)

# What the worker imports for a sync (its handlers import the venues' ccxt classes and the Esplora client when
# first called), then each module loaded from site-packages whose cached bytecode is missing, stale or unreadable.
CODE = f"""
import importlib, importlib.machinery, importlib.util, json, os, stat, sys, sysconfig
from tallyhold.egress import ccxt_packages, worker
ccxt_packages.install()
for name in {OPERATION_MODULES!r} + ["tallyhold.chains.bitcoin", "ccxt.base.types"]:
    importlib.import_module(name)
import ccxt.async_support
ccxt.async_support.binance, ccxt.async_support.kraken

def problem(source):
    cached = importlib.util.cache_from_source(source)
    try:
        with open(cached, "rb") as pyc:
            header = pyc.read(16)
    except FileNotFoundError:
        return "missing"
    except PermissionError:
        return "unreadable"
    if header[:4] != importlib.util.MAGIC_NUMBER:
        return "other Python"
    flags = int.from_bytes(header[4:8], "little")
    if flags & 0b1:  # hash-based: valid unless it asks to be checked against a source that changed
        with open(source, "rb") as text:
            return "stale" if flags & 0b10 and header[8:16] != importlib.util.source_hash(text.read()) else None
    seen = os.stat(source)
    if int.from_bytes(header[8:12], "little") != int(seen.st_mtime) & 0xFFFFFFFF:
        return "stale"
    if int.from_bytes(header[12:16], "little") != seen.st_size & 0xFFFFFFFF:
        return "stale"
    if seen.st_mode & stat.S_IROTH and not os.stat(cached).st_mode & stat.S_IROTH:
        return "not readable by other users"
    return None

libraries = {{sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}}
loaded, problems = 0, {{}}
for module in list(sys.modules.values()):
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if not isinstance(spec.loader if spec else None, importlib.machinery.SourceFileLoader) or not origin:
        continue
    if not any(origin.startswith(folder + os.sep) for folder in libraries):
        continue
    loaded += 1
    found = problem(origin)
    if found:
        problems[spec.name] = found
print(json.dumps({{"loaded": loaded, "problems": problems}}))
"""


def test_every_library_module_a_sync_imports_has_fresh_bytecode_readable_by_all() -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    found = json.loads(done.stdout)
    assert found["loaded"] > 1000  # ccxt, web3, bip_utils, aiohttp, pydantic, ...: the check saw the worker's imports
    problems = found["problems"]
    assert problems == {}, f"{len(problems)} modules without usable bytecode (run `make install`): {problems}"
