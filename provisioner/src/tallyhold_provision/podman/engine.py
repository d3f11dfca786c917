"""Running the `podman` command with the project's own settings (deploy/podman/containers.conf: runc, cgroupfs,
ulimits a container host grants), and nothing else of the caller's environment that could change its meaning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tallyhold_provision.local.checkout import checkout_root


class PodmanError(RuntimeError):
    """A podman command failed; the message carries the command's name and podman's own last lines."""


def containers_conf() -> Path:
    return checkout_root() / "deploy" / "podman" / "containers.conf"


def podman_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if base is None else base
    # No TALLYHOLD_ variable reaches podman: a container gets exactly the settings the backend hands it.
    env = {k: v for k, v in source.items() if not k.startswith("TALLYHOLD_")}
    env["CONTAINERS_CONF"] = str(containers_conf())
    return env


def available() -> str | None:
    """None when podman can be used here, else the reason."""
    if shutil.which("podman") is None:
        return "podman is not installed (`make image` installs it)"
    return None


def podman(
    *args: str, check: bool = True, capture: bool = True, timeout: float | None = 600, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - podman with arguments built by our code, never a shell
        ["podman", *args],  # noqa: S607 - podman is found on PATH like any operator tool
        env=podman_environment(),
        capture_output=capture,
        text=True,
        check=False,
        timeout=timeout,
        input=stdin,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()[-3:]
        raise PodmanError(f"podman {args[0]} failed ({result.returncode}): {' | '.join(detail)}")
    return result


def podman_json(*args: str) -> Any:
    return json.loads(podman(*args).stdout or "null")


def inspect(kind: str, name: str) -> dict[str, Any]:
    """`podman <kind> inspect NAME`, parsed (podman 4.3's templates cannot render every field as JSON)."""
    found = podman_json(kind, "inspect", name)
    return dict(found[0]) if isinstance(found, list) else dict(found)


def exists(kind: str, name: str) -> bool:
    """`podman <kind> exists NAME` for kind in image, container, pod, secret? (secret has no `exists` in 4.3)."""
    return podman(kind, "exists", name, check=False).returncode == 0


def run_lines(args: Sequence[str]) -> list[str]:
    return [line for line in podman(*args).stdout.splitlines() if line.strip()]
