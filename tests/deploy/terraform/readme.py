"""The inputs and outputs tables of deploy/terraform/README.md, generated from the .tf files.

    .venv/bin/python -m tests.deploy.terraform.readme          # print the tables
    .venv/bin/python -m tests.deploy.terraform.readme --write  # rewrite them in the README

test_terraform_static.py fails when the README's tables differ from what this generates.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.deploy.terraform.layout import README, ROOTS, label, literal, outputs, variables

START = "<!-- terraform-interface:{}:start -->"
END = "<!-- terraform-interface:{}:end -->"


def cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def default_text(value: Any) -> str:
    value = literal(value)
    return "`" + json.dumps(value, ensure_ascii=False).replace("|", "\\|") + "`"


def tables(root: Path) -> str:
    lines = ["| input | type | default | description |", "|---|---|---|---|"]
    for variable in variables(root):
        default = "required" if variable.required else default_text(variable.default)
        lines.append(f"| `{variable.name}` | `{variable.type}` | {default} | {cell(variable.description)} |")
    lines += ["", "| output | description |", "|---|---|"]
    lines += [f"| `{output.name}` | {cell(output.description)} |" for output in outputs(root)]
    return "\n".join(lines)


def section_pattern(root: Path) -> re.Pattern[str]:
    return re.compile(re.escape(START.format(label(root))) + r"\n(.*?)" + re.escape(END.format(label(root))), re.S)


def current_tables(text: str, root: Path) -> str | None:
    match = section_pattern(root).search(text)
    return match.group(1).removesuffix("\n") if match else None


def rewrite(text: str) -> str:
    for root in ROOTS:
        match = section_pattern(root).search(text)
        if match is None:
            raise SystemExit(f"{README}: add the markers {START.format(label(root))} and {END.format(label(root))}")
        block = f"{START.format(label(root))}\n{tables(root)}\n{END.format(label(root))}"
        text = text[: match.start()] + block + text[match.end() :]
    return text


def main(argv: list[str]) -> None:
    if "--write" in argv:
        README.write_text(rewrite(README.read_text()))
        return
    for root in ROOTS:
        sys.stdout.write(f"{label(root)}\n{tables(root)}\n\n")


if __name__ == "__main__":
    main(sys.argv[1:])
