"""The two charts rendered the way the kubernetes backend renders them (kube/render.py: Helm's own engine,
in-process), for every `ci/` value set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tallyhold_provision.kube.render import Manifest, render_chart

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "tallyhold"
NAMESPACE_CHART = ROOT / "deploy" / "helm" / "tallyhold-namespace"
VALUE_SETS = {path.stem: path for path in sorted((CHART / "ci").glob("*.yaml"))}
NAMESPACE_VALUE_SETS = {path.stem: path for path in sorted((NAMESPACE_CHART / "ci").glob("*.yaml"))}
# The Kubernetes versions the charts support (Chart.yaml kubeVersion >=1.30): every object is validated against
# each one's schemas.
KUBERNETES_VERSIONS = ("1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def namespace_of(values: dict[str, Any]) -> str:
    return str(values.get("customerId", "t_0123456789abcdef")).replace("_", "-")


def release(values: dict[str, Any]) -> list[Manifest]:
    rendered = render_chart(CHART, values, release="tallyhold", namespace=namespace_of(values))
    return [*rendered.hooks, *rendered.objects]


def namespace_objects(values: dict[str, Any]) -> list[Manifest]:
    return render_chart(NAMESPACE_CHART, values, release="tallyhold-namespace", namespace=namespace_of(values)).objects


def every_set() -> Iterator[tuple[str, list[Manifest]]]:
    for name, path in VALUE_SETS.items():
        yield name, release(load(path))
    for name, path in NAMESPACE_VALUE_SETS.items():
        yield f"namespace-{name}", namespace_objects(load(path))


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if name is None or m["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''}"
    return found[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]["spec"])
        for m in manifests
        if m["kind"] in {"Deployment", "Job"}
    ]
