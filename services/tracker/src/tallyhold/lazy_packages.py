"""Packages whose `__init__` only re-exports, loaded so that each name imports its module when first read:
`install("bip_utils")` in the egress worker, before anything imports bip_utils; `install("uvicorn",
subpackages=False)` in the instance (`lean_imports.py`).

bip_utils' package files do nothing but `from bip_utils.<module> import <names>`, for every coin it supports (350
modules: TON's pytoniq_core, Monero, Cardano, Substrate, ...), where the worker's xpub scan needs BIP-32 and three
Bitcoin address encoders: about 0.1–0.2 s of CPU at every worker start that reads an xpub. `install(package)`
makes that package and each of its subpackages (only the package itself with `subpackages=False`), when
imported, a package whose names are exactly the ones its `__init__` imports, each imported from its module the
first time it is read (`from bip_utils import Bip32Slip10Secp256k1`, `bip_utils.addr.P2WPKHAddrEncoder`): PEP
562's module `__getattr__`. A package file that does anything else than such imports (and giving a dunder name
such as `__version__` or `__all__` a literal value) is refused with ImportError (the library changed: look
again), never run half-lazily. A package installed without its `__init__` source (bytecode only) is imported as
it is; the container image keeps bip_utils' and uvicorn's `__init__` sources for this (tools/image/slim_venv.py).
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


def install(package: str, *, subpackages: bool = True) -> None:
    """Idempotent; does nothing once `package` is imported (it then stays as it is). `subpackages=False`: only
    the package itself is loaded this way, its subpackages' files run as they are."""
    if package in sys.modules or any(isinstance(f, _Finder) and f.package == package for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder(package, subpackages=subpackages))


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `package` and its subpackages as the path finder does, to be loaded by `_ReExports`."""

    def __init__(self, package: str, *, subpackages: bool) -> None:
        self.package = package
        self.subpackages = subpackages

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        inside = self.subpackages and fullname.startswith(self.package + ".")
        if fullname != self.package and not inside:
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
            tree = ast.parse(source.read(), self.origin)
        exported = _re_exports(tree, module.__name__)
        module.__dict__.update(_dunder_constants(tree))
        module.__dict__["__getattr__"] = _on_first_read(module, exported)


def _re_exports(tree: ast.Module, package: str) -> dict[str, tuple[str, str]]:
    """name → (module, attribute) for each `from <module> import <attribute> [as name]` of the package file."""
    exported: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if _dunder_constant(node) is not None:
            continue  # `__version__ = "1.2"`, `__all__ = [...]`: set as they are (`_dunder_constants`)
        if not isinstance(node, ast.ImportFrom) or node.level != 0 or node.module is None:
            raise ImportError(f"{package}'s __init__ does more than re-export names: it is no longer loaded lazily")
        for alias in node.names:
            if alias.name == "*":
                raise ImportError(f"{package}'s __init__ imports * from {node.module}")
            exported[alias.asname or alias.name] = (node.module, alias.name)
    return exported


def _rebind_shadowed(package: ModuleType, exported: dict[str, tuple[str, str]]) -> None:
    """Importing a submodule binds it on its package under its own name. Where the package file re-exports
    another object under that name (uvicorn's `main`, the function of `uvicorn.main`), the file's name wins, as
    it does when the file runs."""
    for name, (module, attribute) in exported.items():
        bound = vars(package).get(name)
        if isinstance(bound, ModuleType) and bound.__name__ == f"{package.__name__}.{name}":
            setattr(package, name, getattr(importlib.import_module(module), attribute))


def _dunder_constant(node: ast.stmt) -> tuple[str, Any] | None:
    """(name, value) when `node` gives a dunder name a literal value, else None."""
    if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
        return None
    name = node.targets[0].id
    if not (name.startswith("__") and name.endswith("__")):
        return None
    try:
        return name, ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError):
        return None  # not a literal: refused by `_re_exports`


def _dunder_constants(tree: ast.Module) -> dict[str, Any]:
    return dict(found for node in tree.body if (found := _dunder_constant(node)) is not None)


def _on_first_read(package: ModuleType, exported: dict[str, tuple[str, str]]) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:  # PEP 562: a module's hook for the attributes it does not have
        if name not in exported:
            raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")
        module, attribute = exported[name]
        value = getattr(importlib.import_module(module), attribute)
        setattr(package, name, value)  # read once: later reads find it without this hook
        _rebind_shadowed(package, exported)
        return value

    return __getattr__
