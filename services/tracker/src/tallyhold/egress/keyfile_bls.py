"""eth_keyfile without py_ecc's BLS12-381 at its import: `install()` in the egress worker, before anything imports web3.

web3 imports eth_account, which imports eth_keyfile, whose `keyfile` module binds at its own import
`G2ProofOfPossession` from `py_ecc.bls` and `curve_order` from `py_ecc.bls12_381`. Loading those packages computes
BLS12-381 tables (the pairing's Frobenius coefficients and more): about 0.3–0.5 s of CPU at every worker start that
reads an EVM wallet, for BLS (version 4) keystores, which the worker never makes nor opens. `install()` lets
`eth_keyfile.keyfile` be imported, when something first imports it, with those two names bound to equivalents that
cost nothing until used:
- `curve_order` is read from py_ecc's curve module (`bls12_381_curve.py`, or its `.pyc` where only bytecode is
  installed, run alone without its package, whose `__init__` imports the pairing): py_ecc's own value, not a copy;
- `G2ProofOfPossession` is a stand-in that imports py_ecc's cipher suite at its first attribute read
  (`bls.SkToPk(...)`, the only use eth_keyfile makes of it) and answers with the real one.
Only while `eth_keyfile.keyfile` runs do `py_ecc.bls` and `py_ecc.bls12_381` name the stand-ins; any other import
of them, before or after, gets py_ecc's real packages.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

KEYFILE = "eth_keyfile.keyfile"
BLS = "py_ecc.bls"
CURVE_PACKAGE = "py_ecc.bls12_381"
CURVE_MODULE = "bls12_381_curve.py"
CURVE_BYTECODE = "bls12_381_curve.pyc"
CIPHER_SUITE = "G2ProofOfPossession"


def install() -> None:
    """Idempotent; does nothing when eth_keyfile or py_ecc's BLS packages are loaded already (they then stay)."""
    if any(name in sys.modules for name in (KEYFILE, BLS, CURVE_PACKAGE)):
        return
    if not any(isinstance(finder, _KeyfileFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _KeyfileFinder())


class _OnFirstUse:
    """`module.name`, imported at the first attribute read."""

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(getattr(importlib.import_module(self._module), self._name), attribute)


class _KeyfileFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != KEYFILE:
            return None
        sys.meta_path.remove(self)  # once: the real finders find the module; we only wrap how it runs
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _WithoutBls(spec.loader)
        return spec


class _WithoutBls(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.loader, attribute)  # get_source, get_filename, ...: the real loader's

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        stand_ins = {
            BLS: _module(BLS, **{CIPHER_SUITE: _OnFirstUse(BLS, CIPHER_SUITE)}),
            CURVE_PACKAGE: _module(CURVE_PACKAGE, curve_order=_curve_order()),
        }
        sys.modules.update(stand_ins)
        try:
            self.loader.exec_module(module)
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]


def _module(name: str, **names: Any) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(names)
    return module


def _curve_order() -> int:
    package = importlib.util.find_spec(CURVE_PACKAGE)  # finds the package without running its __init__
    if package is None or not package.submodule_search_locations:
        raise ImportError(f"{CURVE_PACKAGE} is not installed")
    folder = Path(next(iter(package.submodule_search_locations)))
    # The source, or its bytecode in the source's place where an install keeps bytecode only (the container image).
    location = next((path for path in (folder / CURVE_MODULE, folder / CURVE_BYTECODE) if path.is_file()), None)
    if location is None:
        raise ImportError(f"{CURVE_PACKAGE}'s {CURVE_MODULE} is not installed")
    spec = importlib.util.spec_from_file_location(f"{CURVE_PACKAGE}.{location.stem}", location)
    if spec is None or spec.loader is None:
        raise ImportError(f"{location} cannot be loaded")
    curve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curve)
    order = curve.curve_order
    if not isinstance(order, int):
        raise ImportError(f"{CURVE_PACKAGE}'s curve_order is no longer an int")
    return order
