"""The README's configuration table, generated from `Settings` so that the two cannot drift apart."""

from __future__ import annotations

from enum import Enum

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from tallyhold.settings import leaves


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None or value is PydanticUndefined or value in ([], {}):
        return "—"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return f"`{value}`"


def markdown_table() -> str:
    lines = ["| variable | in code (`settings.…`) | default | meaning |", "|---|---|---|---|"]
    for leaf in leaves():
        description = (leaf.field.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{leaf.variable}` | `{'.'.join(leaf.path)}` | {_default(leaf.field)} | {description} |")
    return "\n".join(lines) + "\n"
