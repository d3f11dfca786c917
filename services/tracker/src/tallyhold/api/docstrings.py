"""The OpenAPI document's descriptions without the interpreter's docstrings: instances run with `python -OO`.

`-OO` drops every docstring of every module an instance imports (about 6 MiB of each idle instance, almost all of it
the libraries'), but FastAPI takes an operation's description from its endpoint's docstring and pydantic a schema's
description from its model's. Under `-OO` `restore_route_descriptions` and `restore_schema_docstrings` read those
two kinds of docstring back from Tallyhold's own source files (one file at a time; the syntax tree is dropped at
once) and puts them where FastAPI and pydantic look: the routes' descriptions at start-up, the models' and enums'
`__doc__` when the document is first built. Only the docstrings the document shows are kept. Without `-OO` it does
nothing. A test proves the document served under `-OO` equals the one served without
(`tests/tracker/api/test_openapi_without_docstrings.py`).
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterator, Sequence
from enum import Enum
from pathlib import Path
from types import ModuleType

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel

OWN_PACKAGE = "tallyhold"


def docstrings_dropped() -> bool:
    return sys.flags.optimize >= 2


def restore_route_descriptions(routers: Sequence[APIRouter]) -> None:
    """Before the routers are included in the app: FastAPI derives the app's routes from theirs, once."""
    if not docstrings_dropped():
        return
    wanted: dict[str, dict[str, APIRoute]] = {}
    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute) and not route.description and _is_own(route.endpoint.__module__):
            wanted.setdefault(route.endpoint.__module__, {})[route.endpoint.__qualname__] = route
    for module_name, routes in wanted.items():
        for qualname, doc in _source_docstrings(sys.modules[module_name], set(routes)).items():
            # As FastAPI makes a description of a docstring: cleaned, and cut at a form feed.
            routes[qualname].description = inspect.cleandoc(doc).split("\f")[0].strip()


def restore_schema_docstrings() -> None:
    """Before the document is built (pydantic reads `__doc__` then): left until the document is first asked for,
    an idle instance never reads the schema modules' source."""
    if not docstrings_dropped():
        return
    wanted: dict[str, dict[str, type]] = {}
    for cls in _schema_classes():
        if _is_own(cls.__module__):
            wanted.setdefault(cls.__module__, {})[cls.__qualname__] = cls
    for module_name, classes in wanted.items():
        for qualname, doc in _source_docstrings(sys.modules[module_name], set(classes)).items():
            classes[qualname].__doc__ = doc


def _schema_classes() -> Iterator[type]:
    """Every pydantic model and enum class defined so far (pydantic describes a schema with their docstrings)."""
    for base in (BaseModel, Enum):
        pending: list[type] = [base]
        while pending:
            subclasses: list[type] = pending.pop().__subclasses__()
            pending.extend(subclasses)
            yield from subclasses


def _is_own(module_name: str) -> bool:
    return module_name == OWN_PACKAGE or module_name.startswith(OWN_PACKAGE + ".")


def _source_docstrings(module: ModuleType, qualnames: set[str]) -> dict[str, str]:
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    found: dict[str, str] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = prefix + node.name
                doc = ast.get_docstring(node, clean=False)
                if qualname in qualnames and doc is not None:
                    found[qualname] = doc
                inner = qualname + (".<locals>." if not isinstance(node, ast.ClassDef) else ".")
                visit(node.body, inner)

    visit(ast.parse(source).body, "")
    return found
