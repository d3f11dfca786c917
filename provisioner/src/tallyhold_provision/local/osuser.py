"""Servers that refuse to run as root (Postgres) run as a dedicated system user when we are root."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "tallyhold-svc"


@dataclass(frozen=True)
class RunAs:
    """Who a child server runs as: ourselves, or the service user when we are root."""

    user: str | None
    uid: int
    gid: int

    # `subprocess` arguments that drop to this identity: its user, its own group, and none of root's groups
    # (keeping gid 0 makes some kernels refuse the service user its own 0600 files). None = do not change.
    @property
    def popen_user(self) -> int | None:
        return self.uid if self.user else None

    @property
    def popen_group(self) -> int | None:
        return self.gid if self.user else None

    @property
    def popen_extra_groups(self) -> list[int] | None:
        return [] if self.user else None

    def chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)


def service_identity() -> RunAs:
    if os.geteuid() != 0:
        return RunAs(None, os.getuid(), os.getgid())
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(  # noqa: S603 - fixed arguments
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SERVICE_USER)
    return RunAs(SERVICE_USER, entry.pw_uid, entry.pw_gid)


def make_traversable(path: Path) -> None:
    """Give others search (x) permission on every ancestor of `path`, so the service user can reach files
    inside the checkout. Only x is added: nothing becomes listable or readable that was not before."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
