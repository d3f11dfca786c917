"""bip_utils loaded as packages of names imported on first read (tallyhold/lazy_packages.py), as the egress worker
loads it: the xpub scan derives the same addresses as with bip_utils' own package files (built here, in the test
process, by bip_utils' full BIP-44 classes), without importing the coins it never uses; a package file that does
more than re-export is refused, never run half-lazily."""

from __future__ import annotations

import ast
import compileall
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tallyhold.lazy_packages import _dunder_constants, _re_exports
from tests.fixtures.esplora import SeedWallet

KINDS = ("xpub", "ypub", "zpub")
DERIVE = """
import json, sys
from tallyhold.egress import worker
worker.prepare_imports()
from tallyhold.chains.hdkeys import XpubDeriver
keys = json.loads(sys.argv[1])
derived = {k: [XpubDeriver(key).address(chain, i) for chain in (0, 1) for i in range(3)] for k, key in keys.items()}
unused = ("pytoniq_core", "bip_utils.monero", "bip_utils.cardano", "bip_utils.ton", "bip_utils.bip.bip44")
print(json.dumps({"addresses": derived, "loaded": [m for m in unused if m in sys.modules]}))
"""


def test_the_xpub_scan_derives_the_same_addresses_without_the_unused_coins() -> None:
    keys = {kind: SeedWallet(kind).extended_public_key for kind in KINDS}
    done = subprocess.run([sys.executable, "-c", DERIVE, json.dumps(keys)], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout)
    expected = {kind: [SeedWallet(kind).address(chain, i) for chain in (0, 1) for i in range(3)] for kind in KINDS}
    assert found == {"addresses": expected, "loaded": []}


def test_a_package_file_doing_more_than_re_exporting_is_refused() -> None:
    assert _re_exports(ast.parse('"""doc"""\nfrom p.m import A as B, C\n'), "p") == {
        "B": ("p.m", "A"),
        "C": ("p.m", "C"),
    }
    # A dunder name given a literal (uvicorn's `__version__` and `__all__`) is set as it is, nothing else.
    versioned = ast.parse('from p.m import A\n__version__ = "1.2"\n__all__ = ["A"]\n')
    assert _re_exports(versioned, "p") == {"A": ("p.m", "A")}
    assert _dunder_constants(versioned) == {"__version__": "1.2", "__all__": ["A"]}
    refused = (
        "from p.m import A\nREGISTRY = {}\n",
        "from p.m import *\n",
        "from .m import A\n",
        "from p.m import A\n__version__ = read_version()\n",
    )
    for source in refused:
        with pytest.raises(ImportError):
            _re_exports(ast.parse(source), "p")


SOURCELESS = """
import sys
from tallyhold import lazy_packages
lazy_packages.install("sourceless_pkg")
import sourceless_pkg
print(sourceless_pkg.VALUE, "__getattr__" in vars(sourceless_pkg))
"""


def test_a_package_installed_without_its_source_is_imported_as_it_is(tmp_path: Path) -> None:
    # As the container image installs libraries: bytecode in the source's place, no `__init__.py` to read names from.
    package = tmp_path / "sourceless_pkg"
    package.mkdir()
    (package / "values.py").write_text("VALUE = 42\n")
    (package / "__init__.py").write_text("from sourceless_pkg.values import VALUE\n")
    assert compileall.compile_dir(package, quiet=1, legacy=True)
    (package / "__init__.py").unlink()
    path = os.pathsep.join(filter(None, (str(tmp_path), os.environ.get("PYTHONPATH"))))
    done = subprocess.run(
        [sys.executable, "-c", SOURCELESS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.stdout.split() == ["42", "False"]  # run as bytecode, not made lazy
