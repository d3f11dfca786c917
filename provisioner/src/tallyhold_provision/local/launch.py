"""`python -m tallyhold_provision.local.launch ENV_FILE`: the command supervisord runs for an instance.

It reads the instance's settings from its private env file (0600, in the customer's folder of the state
directory) and replaces itself with `tallyhold serve`. The settings, which include the database password and
the Vault secret id, so never appear in supervisord's configuration, its `supervisorctl` output or a command
line. Every TALLYHOLD_ variable inherited from supervisord is dropped first: the file is the whole truth.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tallyhold_provision.local.files import read_json


def child_environment(env_file: Path, inherited: dict[str, str]) -> dict[str, str]:
    settings = read_json(env_file)
    if settings is None:
        raise SystemExit(f"error: {env_file} is missing")
    base = {k: v for k, v in inherited.items() if not k.startswith("TALLYHOLD_")}
    return {**base, **{str(k): str(v) for k, v in settings.items()}}


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tallyhold_provision.local.launch ENV_FILE")
    env = child_environment(Path(sys.argv[1]), dict(os.environ))
    exe = Path(sys.executable).with_name("tallyhold")
    os.execve(exe, [str(exe), "serve"], env)  # noqa: S606 - our own console script, no shell


if __name__ == "__main__":
    main()
