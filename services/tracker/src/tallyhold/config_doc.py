"""The README's configuration table, generated from `Settings` so that the two cannot drift apart."""

from __future__ import annotations

from enum import Enum

from pydantic_core import PydanticUndefined

from tallyhold.settings import Settings


def _default(field_name: str) -> str:
    field = Settings.model_fields[field_name]
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
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `TALLYHOLD_{name}` | {_default(name)} | {description} |")
    return "\n".join(lines) + "\n"
