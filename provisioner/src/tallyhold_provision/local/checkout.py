"""Where the checkout is: the provisioner runs from it (the workspace installs it in place) and finds the
checkout's own files there (deploy/vault policies, node_modules' anvil)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def checkout_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").exists() and (parent / "provisioner").is_dir():
            return parent
    raise FileNotFoundError("the Tallyhold checkout was not found above the provisioner package")
