"""Slims the image's third-party packages in the builder stage (Containerfile), before they are copied into the
runtime stage: what the running tracker never loads goes, what it loads is kept in the one form it loads.

- Shared objects are stripped of symbols and debug sections (`strip --strip-unneeded`): half their size, same code.
- Packages' own test suites go (`tests`, `test`, `SelfTest` folders), with ccxt's websocket variant `ccxt.pro`:
  the tracker polls REST endpoints through `ccxt.async_support` and never imports either.
- C and Cython sources, headers and type stubs go: nothing imports them.
- Every module is compiled once to a `.pyc` in the source's place (the layout Python loads without a source), and
  the `.py` goes. With a read-only root filesystem Python cannot write bytecode at run time, so a source without
  its bytecode would be compiled again by every process (the egress worker, at each start, would recompile ccxt's
  hundred exchanges); a source beside its bytecode would ship every module twice. Tracebacks through third-party
  code keep file and line, without the line's text. The tracker's own package is not touched here (it is
  installed later, with its sources and their bytecode at both levels its processes run at).
- That bytecode is compiled as `python -OO` compiles (no docstrings, no `assert`) and without column ranges
  (run this script with `-X no_debug_ranges`). Python loads a sourceless `.pyc` whatever the level it runs at, so
  one file serves every process of the image: the instance (run with `-OO`: README, "Customers per host") gets the
  libraries' share of its saving (docstrings are most of it), and the egress worker and the command line, run
  without `-OO`, the same code. Nothing of theirs needs a library's docstring or `assert`: the command line's
  help texts are Tallyhold's own docstrings (its sources are kept), and FastAPI and pydantic describe the API
  with Tallyhold's endpoints and models, never with a library's docstring (a test compares the OpenAPI document
  the image serves with the checkout's). The column ranges would only draw `^^^` under a traceback's source
  line, which a sourceless module cannot show anyway.
- ccxt's two package `__init__` sources stay: the egress worker reads them to load ccxt without its hundred
  exchanges (tallyhold/egress/ccxt_packages.py), so they are data it parses, not only modules it imports. So do
  the `__init__` sources of every bip_utils package: the worker reads the names they re-export to load each on
  first use (tallyhold/lazy_packages.py), not every coin bip_utils supports at each xpub scan. And
  uvicorn's package source, read the same way by the instance, which then never imports uvicorn's command line
  (tallyhold/lean_imports.py).

Run with the virtualenv's Python (the version the bytecode is for):
    python -X no_debug_ranges slim_venv.py SITE_PACKAGES
"""

from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

UNUSED_FOLDERS = frozenset({"tests", "test", "SelfTest"})
UNUSED_PACKAGES = ("ccxt/pro",)
UNUSED_SUFFIXES = frozenset({".c", ".cpp", ".h", ".pyx", ".pxd", ".pyi"})
ELF_MAGIC = b"\x7fELF"
OPTIMIZE = 2  # as `python -OO`: no docstrings, no `assert`
KEPT_SOURCES = frozenset({"ccxt/__init__.py", "ccxt/async_support/__init__.py", "uvicorn/__init__.py"})
KEPT_PACKAGE_SOURCES = ("bip_utils/",)  # every package `__init__` source below these folders


def kept(relative: str) -> bool:
    """Whether the source at `relative` (to site-packages, POSIX) stays beside its bytecode: data the worker parses."""
    if relative in KEPT_SOURCES:
        return True
    return relative.endswith("/__init__.py") and relative.startswith(KEPT_PACKAGE_SOURCES)


def remove_unused(site: Path) -> None:
    for relative in UNUSED_PACKAGES:
        shutil.rmtree(site / relative, ignore_errors=True)
    folders = [path for path in site.rglob("*") if path.is_dir() and path.name in UNUSED_FOLDERS]
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in UNUSED_SUFFIXES:
            path.unlink()


def shared_objects(site: Path) -> list[Path]:
    """ELF files only: some packages name data files `*.so…` too."""
    found = []
    for path in site.rglob("*.so*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == ELF_MAGIC:
                    found.append(path)
    return found


def strip(site: Path) -> None:
    objects = [str(path) for path in shared_objects(site)]
    if objects:
        subprocess.run(["strip", "--strip-unneeded", *objects], check=True)  # noqa: S603, S607 - binutils' strip, our own file list


def compile_in_place(site: Path) -> None:
    """Bytecode beside each module (legacy layout, loaded without a source), then the sources and any caches go."""
    for cache in [path for path in site.rglob("__pycache__") if path.is_dir()]:
        shutil.rmtree(cache)
    if not compileall.compile_dir(site, quiet=1, legacy=True, optimize=OPTIMIZE, workers=0):
        sys.exit("slim_venv: a module failed to compile")
    for source in site.rglob("*.py"):
        if source.is_file() and source.with_suffix(".pyc").is_file() and not kept(source.relative_to(site).as_posix()):
            source.unlink()


def main() -> None:
    if len(sys.argv) != 2:  # one argument: the site-packages folder
        sys.exit(f"usage: {sys.argv[0]} SITE_PACKAGES")
    if "no_debug_ranges" not in sys._xoptions and not os.environ.get("PYTHONNODEBUGRANGES"):
        sys.exit("slim_venv: run with `python -X no_debug_ranges`: the bytecode is compiled without column ranges")
    site = Path(sys.argv[1])
    remove_unused(site)
    strip(site)
    compile_in_place(site)


if __name__ == "__main__":
    main()
