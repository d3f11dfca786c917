"""Libraries imported without optional parts a process never uses, each a documented fallback of the library
itself. Each import costs every process that makes it: memory in every idle instance, CPU at every egress
worker start (once per customer and sync interval on a host of many customers).

- requests without a character-set detector. requests imports chardet or charset_normalizer at its own import
  (frequency tables, compiled modules and the CJK codecs they pull in: about 3 MiB) only for
  `Response.apparent_encoding`, the guess it makes when a response declares no charset. Without a detector it
  falls back to UTF-8 (its documented behaviour, with a warning at import that says so). The instance imports
  requests only through hvac, and Vault answers `application/json`, which requests decodes as UTF-8 without
  guessing; the egress worker imports it only because ccxt's and web3's synchronous clients do, and calls
  through aiohttp (their asynchronous clients) and httpx.
- httpx without its command-line client. httpx's `__init__` imports `httpx._main` (click, rich and pygments:
  about 70 modules) inside `try/except ImportError` and defines a `main` that says the `[cli]` extra is missing
  when that import fails. The egress worker (httpx is its Esplora client) never runs `httpx` as a command.
- uvicorn without its command line. uvicorn's package file imports `uvicorn.main` (the `uvicorn` command: click,
  the reloaders and multiprocessing supervisors, about 20 modules and 1.9 MiB of every idle instance) only to
  re-export `main`, `run` and `Server`. The instance builds its server from `uvicorn.config` and `uvicorn.server`
  and never runs the command, so the package is loaded with each of its names imported at its first read
  (`tallyhold/lazy_packages.py`): `uvicorn.run` or `uvicorn.main`, read by anyone, still import the command line.
- SQLAlchemy's Postgres dialect without the other drivers' dialects run. Its package file imports the dialect
  module of every Postgres driver SQLAlchemy knows (asyncpg, pg8000, psycopg2cffi, ...) so that each is an
  attribute of the package; the instance talks through psycopg alone. Those three are imported with the
  standard library's `importlib.util.LazyLoader`: each is bound as always and runs at its first attribute read
  (a URL naming that driver, anyone reading the package's attribute), as it would have at import. psycopg2's
  stays as it is: the package's default dialect is read from it at once. 0.2–0.3 MiB of every idle instance.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

from tallyhold import lazy_packages

DETECTORS = ("chardet", "charset_normalizer")
POSTGRES_DIALECT = "sqlalchemy.dialects.postgresql"
OTHER_POSTGRES_DRIVERS = tuple(f"{POSTGRES_DIALECT}.{driver}" for driver in ("asyncpg", "pg8000", "psycopg2cffi"))
HTTPX_CLI = "httpx._main"
_NO_DETECTOR_WARNING = "Unable to find acceptable character detection dependency"


@contextmanager
def _absent(*names: str) -> Iterator[None]:
    """Inside the block `import name` fails with ImportError for each of `names` (None in sys.modules)."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]  # None in sys.modules makes `import name` fail
    try:
        yield
    finally:
        for name in names:
            del sys.modules[name]


def import_requests_without_detector(importer: str) -> None:
    """Imports `importer`, a library that imports requests at its own import (hvac), with requests' detectors
    marked absent; does nothing if requests or a detector is already loaded (another user in the process then
    keeps what it has)."""
    if "requests" in sys.modules or any(name in sys.modules for name in DETECTORS):
        return
    with _absent(*DETECTORS), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_DETECTOR_WARNING)
        importlib.import_module(importer)


def uvicorn_without_command_line() -> None:
    """From now on, `import uvicorn` loads its package without running its file (its names are imported when
    first read); does nothing if uvicorn is already loaded."""
    lazy_packages.install("uvicorn", subpackages=False)


class _RunAtFirstRead(importlib.abc.MetaPathFinder):
    """Finds `modules` as the path finder does, to be run at their first attribute read (LazyLoader)."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def postgres_dialect_without_other_drivers() -> None:
    """From now on the Postgres dialect's package binds the other drivers' dialect modules without running them
    until they are read; does nothing if that package is already loaded."""
    if POSTGRES_DIALECT in sys.modules or any(isinstance(f, _RunAtFirstRead) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _RunAtFirstRead(OTHER_POSTGRES_DRIVERS))


def leave_out_for_good() -> None:
    """For the rest of the process (the egress worker's: nothing in it uses either), requests' detectors and
    httpx's command-line client are absent, whenever requests or httpx gets imported; does nothing for a part
    already loaded. Only what a sync asks for is imported at all (a worker reading wallets imports no ccxt)."""
    for name in (*DETECTORS, HTTPX_CLI):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None in sys.modules makes `import name` fail
    warnings.filterwarnings("ignore", message=_NO_DETECTOR_WARNING)
