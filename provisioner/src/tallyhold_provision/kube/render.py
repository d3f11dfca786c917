"""The charts rendered in-process (helm-python-sdk: Helm's own engine, no helm binary, no cluster), split the
way Helm itself would install them: hooks first, in weight order, then the release's objects in Helm's kind
order. Values never hold a secret (the database URL reaches the pod from a Secret the backend applies apart)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from tallyhold_provision.backends.base import BackendError

# Helm's install order (pkg/release/util/kind_sorter.go), for the kinds these charts hold; others go last.
KIND_ORDER = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "Service",
    "Deployment",
    "Job",
    "Ingress",
)
HOOK = "helm.sh/hook"
HOOK_WEIGHT = "helm.sh/hook-weight"

# Helm's chart loader writes a line to the process's stderr (file descriptor 2, from Go, past Python's logging)
# for each symbolic link it follows: files/tallyhold.rules.yml, which is meant. Those lines are dropped; any
# other line it writes is passed on.
FOLLOWED_LINK = b"found symbolic link in path"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    hooks: list[Manifest] = field(default_factory=list)
    objects: list[Manifest] = field(default_factory=list)
    notes: str = ""


def _kind_rank(manifest: Manifest) -> int:
    kind = manifest.get("kind")
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def render_chart(
    chart: Path, values: Mapping[str, Any], *, release: str, namespace: str, upgrade: bool = False
) -> Rendered:
    """Helm's `template`: raises BackendError with Helm's own message (schema and `fail` errors name the value)."""
    try:
        with _go_stderr_filtered(), helm.Chart.load(str(chart)) as loaded:
            files = loaded.render(
                dict(values), name=release, namespace=namespace, is_install=not upgrade, is_upgrade=upgrade
            )
    except helm.HelmError as exc:
        raise BackendError(f"the chart {chart} does not render: {exc}") from None
    hooks: list[Manifest] = []
    objects: list[Manifest] = []
    notes = ""
    for path in sorted(files):
        if path.endswith("NOTES.txt"):
            notes = files[path]
            continue
        for document in yaml.safe_load_all(files[path]):
            if not document:
                continue
            annotations = document.get("metadata", {}).get("annotations") or {}
            (hooks if HOOK in annotations else objects).append(document)
    hooks.sort(key=lambda m: (int(m["metadata"]["annotations"].get(HOOK_WEIGHT, "0")), _kind_rank(m)))
    objects.sort(key=_kind_rank)
    return Rendered(hooks=hooks, objects=objects, notes=notes)


@contextmanager
def _go_stderr_filtered() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().splitlines(keepends=True):
                if FOLLOWED_LINK not in line:
                    sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's own rule for values files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def to_yaml(manifests: list[Manifest]) -> str:
    return "".join("---\n" + yaml.safe_dump(m, sort_keys=False) for m in manifests)
