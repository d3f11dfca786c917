"""The API process never imports ccxt: only the egress worker does (issue 4: an idle instance must not carry it)."""

import subprocess
import sys

MODULES = [
    "tallyhold.app",
    "tallyhold.exchanges.verifier",
    "tallyhold.exchanges.registry",
    "tallyhold.exchanges.wire",
    "tallyhold.exchanges.assets",
    "tallyhold.exchanges.parse",
    "tallyhold.exchanges.errors",
    "tallyhold.exchanges.guard",
    "tallyhold.sources.registry",
]


def test_api_side_modules_do_not_import_ccxt():
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        "import tallyhold.exchanges.sync\n"
        "print(sorted(m for m in sys.modules if m == 'ccxt' or m.startswith('ccxt.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
