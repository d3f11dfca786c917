"""ccxt's packages without their hundred exchanges: `install()` in the egress worker, before anything imports ccxt.

`import ccxt` runs ccxt's `__init__`, which imports every exchange class it ships (about 110), and
`ccxt.async_support` does it again for the async ones: 90 MiB and seconds of CPU in a worker that talks to the
two or three venues its customer connected, paid again each time the worker starts after it retired idle (every
sync interval on a host of many customers). `install()` runs both `__init__` files with just those exchange
imports left out, so every other name they define (errors, `Exchange`, `exchanges`, `__version__`, ...) is
ccxt's own, and gives both packages a module `__getattr__` that imports one exchange the first time it is asked
for (`getattr(ccxt.async_support, "binance")`, `from ccxt.async_support import binance`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGES = ("ccxt", "ccxt.async_support")


def install() -> None:
    """Idempotent; a no-op once ccxt is imported (the full packages then stay as they are)."""
    for name in PACKAGES:
        if name not in sys.modules:
            _load_without_exchanges(name)


def _load_without_exchanges(name: str) -> None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or spec.loader is None:
        raise ImportError(f"{name} is not installed")
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), spec.origin)
    exchanges = _exchange_names(tree)
    tree.body = [node for node in tree.body if not _imports_an_exchange(node, name, exchanges)]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(tree, spec.origin, "exec"), module.__dict__)  # noqa: S102 - ccxt's own __init__, minus imports
    except BaseException:
        del sys.modules[name]
        raise
    module.__class__ = _ExchangesOnDemand
    module.__dict__["_th_exchanges"] = frozenset(exchanges)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)


def _exchange_names(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "exchanges" for t in node.targets):
            names = ast.literal_eval(node.value)
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return names
    raise ImportError("ccxt's package no longer lists its exchanges as a literal `exchanges = [...]`")


def _imports_an_exchange(node: ast.stmt, package: str, exchanges: list[str]) -> bool:
    """`from <package>.<venue> import <venue>`, the line ccxt's __init__ has for each exchange."""
    if not isinstance(node, ast.ImportFrom) or node.module is None:
        return False
    parent, _, venue = node.module.rpartition(".")
    return parent == package and venue in exchanges and [alias.name for alias in node.names] == [venue]


class _ExchangesOnDemand(ModuleType):
    """A ccxt package that imports an exchange when it is first asked for, and binds the exchange's name to its
    class as ccxt's `__init__` does, also when the import system binds it to the submodule (it does that after
    any `import ccxt.async_support.<venue>`, ours or one ccxt exchange makes of another)."""

    def __getattr__(self, attribute: str) -> Any:
        if attribute not in self.__dict__["_th_exchanges"]:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attribute!r}")
        importlib.import_module(f"{self.__name__}.{attribute}")
        return self.__dict__[attribute]

    def __setattr__(self, attribute: str, value: Any) -> None:
        if isinstance(value, ModuleType) and attribute in self.__dict__.get("_th_exchanges", ()):
            value = getattr(value, attribute)
        super().__setattr__(attribute, value)
