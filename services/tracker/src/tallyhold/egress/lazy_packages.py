"""Packages whose `__init__` only re-exports, loaded so that each name imports its module when first read:
`install("bip_utils")` in the egress worker, before anything imports bip_utils.

bip_utils' package files do nothing but `from bip_utils.<module> import <names>`, for every coin it supports (350
modules: TON's pytoniq_core, Monero, Cardano, Substrate, ...), where the worker's xpub scan needs BIP-32 and three
Bitcoin address encoders: about 0.1–0.2 s of CPU at every worker start that reads an xpub. `install(package)`
makes that package and each of its subpackages, when imported, a package whose names are exactly the ones its
`__init__` imports, each imported from its module the first time it is read (`from bip_utils import
Bip32Slip10Secp256k1`, `bip_utils.addr.P2WPKHAddrEncoder`): PEP 562's module `__getattr__`. A package file that
does anything else than such imports is refused with ImportError (the library changed: look again), never run
half-lazily. A package installed without its `__init__` source (bytecode only) is imported as it is; the container
image keeps bip_utils' `__init__` sources for this (tools/image/slim_venv.py).
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


def install(package: str) -> None:
    """Idempotent; does nothing once `package` is imported (it then stays as it is)."""
    if package in sys.modules or any(isinstance(f, _Finder) and f.package == package for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder(package))


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `package` and its subpackages as the path finder does, to be loaded by `_ReExports`."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.submodule_search_locations is None or spec.origin is None:
            return spec  # a module, not a package: imported as it is
        if not spec.origin.endswith(".py"):
            return spec  # installed without its source, nothing to read the names from: imported as it is
        spec.loader = _ReExports(spec.origin)
        return spec


class _ReExports(importlib.abc.Loader):
    """Loads a package from the names its `__init__` imports, without running it."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        with open(self.origin, encoding="utf-8") as source:
            exported = _re_exports(ast.parse(source.read(), self.origin), module.__name__)
        module.__dict__["__getattr__"] = _on_first_read(module, exported)


def _re_exports(tree: ast.Module, package: str) -> dict[str, tuple[str, str]]:
    """name → (module, attribute) for each `from <module> import <attribute> [as name]` of the package file."""
    exported: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if not isinstance(node, ast.ImportFrom) or node.level != 0 or node.module is None:
            raise ImportError(f"{package}'s __init__ does more than re-export names: it is no longer loaded lazily")
        for alias in node.names:
            if alias.name == "*":
                raise ImportError(f"{package}'s __init__ imports * from {node.module}")
            exported[alias.asname or alias.name] = (node.module, alias.name)
    return exported


def _on_first_read(package: ModuleType, exported: dict[str, tuple[str, str]]) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:  # PEP 562: a module's hook for the attributes it does not have
        if name not in exported:
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
        module, attribute = exported[name]
        value = getattr(importlib.import_module(module), attribute)
        setattr(package, name, value)  # read once: later reads find it without this hook
        return value

    return __getattr__
