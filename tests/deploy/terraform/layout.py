"""Where the Terraform code lives, and its modules' interfaces read with python-hcl2 (no terraform needed)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM = ROOT / "deploy" / "terraform"
README = TERRAFORM / "README.md"
MODULES = sorted(path for path in (TERRAFORM / "modules").iterdir() if path.is_dir())
EXAMPLES = sorted(path for path in (TERRAFORM / "examples").iterdir() if path.is_dir())
ROOTS = MODULES + EXAMPLES  # every directory terraform is run in


def label(root: Path) -> str:
    """`modules/network`, `examples/aws-platform`: how tests and the README name a root."""
    return root.relative_to(TERRAFORM).as_posix()


def literal(value: Any) -> Any:
    """A python-hcl2 value without the HCL quoting it keeps: `"text"` → text, `${expr}` → expr."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1]
    return value


@dataclass(frozen=True)
class Variable:
    name: str
    type: str | None
    description: str | None
    default: Any
    required: bool
    validations: int


@dataclass(frozen=True)
class Output:
    name: str
    description: str | None


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    """The file's blocks (cached: python-hcl2 takes the better part of a second per file)."""
    with path.open() as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
    return parsed


def blocks(root: Path, kind: str, pattern: str = "*.tf") -> list[tuple[str, dict[str, Any]]]:
    """Every `kind "name" { … }` block of the directory's files, as (name, body)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(root.glob(pattern)):
        for block in parse(path).get(kind, []):
            found.extend((literal(name), body) for name, body in block.items())
    return found


def variables(root: Path) -> list[Variable]:
    return [
        Variable(
            name=name,
            type=literal(body["type"]) if "type" in body else None,
            description=literal(body["description"]) if "description" in body else None,
            default=body.get("default"),
            required="default" not in body,
            validations=len(body.get("validation", [])),
        )
        for name, body in blocks(root, "variable")
    ]


def outputs(root: Path) -> list[Output]:
    return [
        Output(name=name, description=literal(body["description"]) if "description" in body else None)
        for name, body in blocks(root, "output")
    ]


def module_calls(root: Path) -> dict[str, Path]:
    """The root's `module "x" { source = "../../modules/y" }` calls: name → module directory."""
    return {name: (root / literal(body["source"])).resolve() for name, body in blocks(root, "module")}
