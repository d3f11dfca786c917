"""Finds terraform and a local filesystem mirror of the hashicorp/aws provider, or says why there is none.

No Terraform registry is reachable from the machines this project is tested on, and terraform itself is not
installable from the registries the Makefile uses. So the terraform checks run only where both are already
present: terraform on PATH, and the aws provider unpacked in a filesystem mirror (layout
`<dir>/registry.terraform.io/hashicorp/aws/<version>/<os>_<arch>/terraform-provider-aws*`). Looked for, in order:
$TALLYHOLD_TERRAFORM_PROVIDER_MIRROR, Terraform's own implied local mirror directories, and the folders directly
under /opt.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

MIRROR_ENV = "TALLYHOLD_TERRAFORM_PROVIDER_MIRROR"
PROVIDER = Path("registry.terraform.io", "hashicorp", "aws")
MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Toolchain:
    terraform: Path
    mirror: Path
    aws_versions: tuple[str, ...]

    def cli_config(self) -> str:
        """A CLI configuration that installs hashicorp/aws from the mirror and never asks a registry."""
        return (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{self.mirror}"\n'
            '    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }\n}\n'
        )


def _platform_dir() -> str:
    machine = MACHINES.get(platform.machine().lower(), platform.machine().lower())
    return f"{platform.system().lower()}_{machine}"


def _implied_mirror_dirs() -> list[Path]:
    """Terraform's implied local mirrors (its CLI configuration docs), then one level under /opt."""
    home = Path.home()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    dirs = [home / ".terraform.d" / "plugins", data_home / "terraform" / "plugins"]
    dirs += [Path(entry) / "terraform" / "plugins" for entry in data_dirs.split(":") if entry]
    opt = Path("/opt")
    dirs += sorted(path for path in opt.iterdir() if path.is_dir()) if opt.is_dir() else []
    return dirs


def aws_versions(mirror: Path) -> tuple[str, ...]:
    """Versions of hashicorp/aws unpacked in the mirror for this machine's platform."""
    provider = mirror / PROVIDER
    if not provider.is_dir():
        return ()
    return tuple(
        sorted(
            version.name
            for version in provider.iterdir()
            if any((version / _platform_dir()).glob("terraform-provider-aws*"))
        )
    )


def find() -> Toolchain | str:
    """The toolchain, or one line saying why the terraform checks cannot run on this machine."""
    terraform = shutil.which("terraform")
    if terraform is None:
        return "terraform is not on PATH"
    explicit = os.environ.get(MIRROR_ENV)
    candidates = [Path(explicit)] if explicit else _implied_mirror_dirs()
    for mirror in candidates:
        versions = aws_versions(mirror)
        if versions:
            return Toolchain(Path(terraform), mirror, versions)
    where = f"${MIRROR_ENV} ({explicit})" if explicit else "the implied mirror directories or under /opt"
    return f"no filesystem mirror of registry.terraform.io/hashicorp/aws for {_platform_dir()} in {where}"


def quiet_env(**extra: str) -> dict[str, str]:
    """The environment for terraform: no CLI configuration from the user (the one set here may be missing)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TF_")}
    env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull})
    env.update(extra)
    return env
