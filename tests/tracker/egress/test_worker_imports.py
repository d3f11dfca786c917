"""What the egress worker process loads: its operations' modules, never the database layer (it has no database;
SQLAlchemy would cost every worker start about 20 MiB and a second of CPU, on every sync interval)."""

from __future__ import annotations

import json
import subprocess
import sys

from tallyhold.egress.operations import OPERATIONS

HEAVY_AND_UNUSED = ("sqlalchemy", "psycopg", "fastapi", "hvac", "tallyhold.settings")


def test_the_operations_modules_do_not_import_the_database_layer() -> None:
    modules = sorted(
        {path.partition(":")[0] for op in OPERATIONS.values() for path in (op.request, op.reply, op.handler)}
    )
    code = (
        "import importlib, sys\n"
        "import tallyhold.egress.worker\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(m for m in {HEAVY_AND_UNUSED!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []


# What a sync of Binance, Kraken, Ethereum wallets and an xpub imports, after the worker's own preparation.
SYNC = """
import importlib, json, sys
from tallyhold.egress import worker
from tallyhold.egress.operations import OPERATIONS
worker.prepare_imports()
for op in OPERATIONS.values():
    op.request_model(), op.reply_model(), op.handler_function()
importlib.import_module("tallyhold.chains.bitcoin"), importlib.import_module("tallyhold.chains.evm")
import ccxt.async_support
ccxt.async_support.binance, ccxt.async_support.kraken
"""
LEFT_OUT = ("chardet", "charset_normalizer", "click", "rich", "pygments")


def test_a_sync_imports_neither_a_charset_detector_nor_httpx_command_line_client() -> None:
    code = SYNC + (
        "import httpx, requests.models\n"
        "answer = requests.models.Response()\n"
        "answer._content = 'déjà'.encode()  # no charset declared: requests falls back to UTF-8 without a detector\n"
        f"print(json.dumps({{'loaded': [m for m in {LEFT_OUT!r} if sys.modules.get(m)], 'requests': answer.text,\n"
        "    'httpx': httpx.Response(200, content='déjà'.encode()).text, 'cli': httpx.main.__module__}))\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    assert found == {"loaded": [], "requests": "déjà", "httpx": "déjà", "cli": "httpx"}
