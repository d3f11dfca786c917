"""ccxt's packages without their hundred exchanges (egress/ccxt_packages.py): every name ccxt's own packages
define is there, exchanges come on demand as classes, and only the ones asked for are imported. Each check runs
in a fresh interpreter: the test process may have imported ccxt whole already."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

NAMES = """
import json, sys, ccxt, ccxt.async_support
print(json.dumps({
    package.__name__: sorted(set(vars(package)) - set(package.exchanges) - {"__getattr__", "_th_exchanges"})
    for package in (ccxt, ccxt.async_support)
}))
"""


def _run(code: str, *, trimmed: bool) -> Any:
    prefix = "from tallyhold.egress import ccxt_packages; ccxt_packages.install()\n" if trimmed else ""
    done = subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_trimmed_packages_define_every_name_but_the_exchange_imports() -> None:
    full, trimmed = _run(NAMES, trimmed=False), _run(NAMES, trimmed=True)
    # The submodules the full import binds as a side effect (ccxt.base, ccxt.abstract, ...) load on use.
    for package in ("ccxt", "ccxt.async_support"):
        assert set(trimmed[package]) >= set(full[package]) - {"abstract", "static_dependencies", "pro"}
        assert {"BaseError", "Exchange", "exchanges", "__version__"} <= set(trimmed[package])


def test_exchanges_load_on_demand_as_classes() -> None:
    found = _run(
        """
import json, sys, ccxt, ccxt.async_support
from ccxt.async_support import binanceus  # imports ccxt.async_support.binance itself, as a submodule
binance = ccxt.async_support.binance
kraken = getattr(ccxt.async_support, "kraken")
loaded = sorted(name for name in ccxt.exchanges if f"ccxt.async_support.{name}" in sys.modules)
try:
    ccxt.async_support.no_such_venue
    missing = "no error"
except AttributeError:
    missing = "AttributeError"
print(json.dumps({
    "classes": [issubclass(k, ccxt.async_support.Exchange) for k in (binance, binanceus, kraken)],
    "binance_id": binance().id,
    "loaded": loaded,
    "sync_loaded": sorted(name for name in ccxt.exchanges if f"ccxt.{name}" in sys.modules),
    "missing": missing,
    "errors_shared": ccxt.async_support.BaseError is ccxt.BaseError,
}))
""",
        trimmed=True,
    )
    assert found["classes"] == [True, True, True]
    assert found["binance_id"] == "binance"
    assert found["loaded"] == ["binance", "binanceus", "kraken"]
    assert found["sync_loaded"] == []
    assert found["missing"] == "AttributeError"
    assert found["errors_shared"]
