"""The parts of `tallyhold` import one another without cycles.

A part is a first-level child of the `tallyhold` package: each subpackage (`connections`, `credentials`,
`exchanges`, ...) and each top-level module (`settings`, `db`, `errors`, `metrics`, `app`, `cli`, ...) is one
node, so a cross-cutting module that imports a domain package is caught like any other back edge. An edge is
any import from one part to another, wherever it is written: at module level, inside a function (a lazy
import is still a dependency) or under `if TYPE_CHECKING:` (a type in an annotation is part of the contract).

grimp (the graph library under import-linter) reads the source with `ast` and never imports it; the cycle is
named with the standard library's `graphlib`, and every edge of it with one import that makes it.
"""

from __future__ import annotations

import graphlib
import itertools
from collections import defaultdict

import grimp
import pytest

ROOT = "tallyhold"
Edges = dict[str, dict[str, list[tuple[str, str]]]]

# Imports that close the one cycle left (`api` → `auth` → `api`): the request state in `api/state.py` holds
# auth's throttle and last-used recorder. Issue 17 item 1 (a typed runtime outside `api/`) moves them out; the
# test below fails once an import here is gone, so the allowance cannot outlive it.
CYCLE_ALLOWANCE = frozenset(
    {
        ("tallyhold.api.state", "tallyhold.auth.last_used"),
        ("tallyhold.api.state", "tallyhold.auth.throttle"),
    }
)


def part(module: str) -> str | None:
    """`tallyhold.chains.evm` → `chains`, `tallyhold.settings` → `settings`; the root package itself → None."""
    names = module.split(".")
    return names[1] if len(names) > 1 else None


def part_edges(graph: grimp.ImportGraph, *, allowed: frozenset[tuple[str, str]] = frozenset()) -> Edges:
    """part → imported part → the (importer, imported) module pairs that make that edge."""
    edges: Edges = defaultdict(lambda: defaultdict(list))
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            source, target = part(importer), part(imported)
            if source and target and source != target and (importer, imported) not in allowed:
                edges[source][target].append((importer, imported))
    return edges


def find_cycle(edges: Edges) -> list[str] | None:
    try:
        graphlib.TopologicalSorter({source: set(targets) for source, targets in edges.items()}).prepare()
    except graphlib.CycleError as cycle:
        # graphlib lists the cycle from its last node back to it; turned around it reads in import order.
        return list(reversed(cycle.args[1]))
    return None


def describe(cycle: list[str], edges: Edges) -> str:
    lines = [" → ".join(cycle)]
    for source, target in itertools.pairwise(cycle):
        importer, imported = edges[source][target][0]
        more = len(edges[source][target]) - 1
        lines.append(f"  {source} → {target}: {importer} imports {imported}" + (f" (+{more} more)" if more else ""))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(ROOT, cache_dir=None)


def test_the_parts_of_tallyhold_import_one_another_without_cycles(graph: grimp.ImportGraph) -> None:
    edges = part_edges(graph, allowed=CYCLE_ALLOWANCE)
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle between the parts of tallyhold:\n" + describe(cycle, edges)


def test_every_allowed_import_still_exists(graph: grimp.ImportGraph) -> None:
    gone = sorted(
        pair for pair in CYCLE_ALLOWANCE if not graph.direct_import_exists(importer=pair[0], imported=pair[1])
    )
    assert gone == [], f"remove these from CYCLE_ALLOWANCE, they no longer exist: {gone}"


def test_a_cycle_is_named_with_the_imports_that_make_it() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("tallyhold.prices.service", "tallyhold.sync.repository"),
        ("tallyhold.sync.engine", "tallyhold.prices.service"),
        ("tallyhold.sync.engine", "tallyhold.settings"),
    ]:
        graph.add_import(importer=importer, imported=imported)
    edges = part_edges(graph)
    cycle = find_cycle(edges)
    assert cycle is not None
    assert set(cycle) == {"prices", "sync"}
    message = describe(cycle, edges)
    assert "tallyhold.prices.service imports tallyhold.sync.repository" in message
    assert "tallyhold.sync.engine imports tallyhold.prices.service" in message
