"""Unprivileged OS users of the local backend, made when we are root: the service user that servers refusing
to run as root (Postgres) run as, and one user per customer that the customer's instance and its egress worker
run as (`instance_identity`), so that a compromised instance reads its own files and nobody else's.

When the operator is not root there is nobody to switch to: every identity is the operator's own (`user` None)
and the isolation left between customers is the database's and Vault's, not the file system's (README, "Local
backend").
"""

from __future__ import annotations

import grp
import os
import pwd
import select
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tallyhold_provision.naming import CUSTOMER_ID

KILL_WAIT_SECONDS = 10.0

SERVICE_USER = "tallyhold-svc"
INSTANCE_USER_PREFIX = "tallyhold-"
ACCOUNT_LOCK_ATTEMPTS = 20


class OSUserError(RuntimeError):
    """An OS account could not be made or removed; the message carries the tool's own reason."""


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

    @property
    def owner(self) -> tuple[int, int] | None:
        """The (uid, gid) files of this identity get, for `files.write_private`; None = ours, as created."""
        return (self.uid, self.gid) if self.user else None

    def chown(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.uid, self.gid)


def service_identity() -> RunAs:
    if os.geteuid() != 0:
        return _ourselves()
    return _ensure_user(SERVICE_USER, user_group=False)


def instance_user_name(customer_id: str) -> str:
    """`tallyhold-<hex>`: from the opaque id (never the slug), within useradd's 32 characters."""
    if not CUSTOMER_ID.fullmatch(customer_id):
        raise ValueError("not an opaque customer id")
    return INSTANCE_USER_PREFIX + customer_id.removeprefix("t_")


def instance_identity(customer_id: str) -> RunAs:
    """The customer's own user and group (made on first use), or ourselves when we are not root."""
    if os.geteuid() != 0:
        return _ourselves()
    return _ensure_user(instance_user_name(customer_id), user_group=True)


def kill_processes_of(customer_id: str) -> None:
    """SIGKILL every process still running as the customer's user and wait for each to exit: its egress workers
    forked by the host's fork server are not in its instance's process group, so stopping the instance does not
    stop them (each would exit at the end of its stdin, after its calls in flight)."""
    if os.geteuid() != 0:
        return
    try:
        uid = pwd.getpwnam(instance_user_name(customer_id)).pw_uid
    except KeyError:
        return
    for pid in _pids_of(uid):
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            if _pids_of(uid, only=pid):  # the pidfd is of that process, not of one that took its pid since
                with suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                select.select([pidfd], [], [], KILL_WAIT_SECONDS)  # readable once it has exited
        finally:
            os.close(pidfd)


def _pids_of(uid: int, only: int | None = None) -> list[int]:
    """Processes whose real uid is `uid` (from /proc/<pid>/status)."""
    pids = []
    for entry in [str(only)] if only is not None else os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and line.split()[1] == str(uid):
                pids.append(int(entry))
    return pids


def remove_instance_identity(customer_id: str) -> None:
    """Delete the customer's user and group (idempotent). Its processes must have stopped first
    (`kill_processes_of`)."""
    if os.geteuid() != 0:
        return
    name = instance_user_name(customer_id)
    with suppress(KeyError):
        pwd.getpwnam(name)
        _admin("userdel", name)
    with suppress(KeyError):  # userdel leaves the group behind when USERGROUPS_ENAB is off
        grp.getgrnam(name)
        _admin("groupdel", name)


def _ourselves() -> RunAs:
    return RunAs(None, os.getuid(), os.getgid())


def _ensure_user(name: str, *, user_group: bool) -> RunAs:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        group = ["--user-group"] if user_group else []
        try:
            _admin("useradd", "--system", *group, "--no-create-home", "--home-dir", "/nonexistent",
                   "--shell", "/usr/sbin/nologin", name)  # fmt: skip
        except OSUserError:
            if not _exists(name):  # else a concurrent command made it meanwhile
                raise
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        # Someone else's account under our name: running an instance as it would be running it as root.
        raise OSUserError(f"the OS user {name} exists with uid or gid 0; refusing to run anything as it")
    return RunAs(name, entry.pw_uid, entry.pw_gid)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _admin(tool: str, *args: str) -> None:
    """useradd/userdel/groupdel, retried while another command holds /etc/passwd's lock."""
    exe = shutil.which(tool) or f"/usr/sbin/{tool}"
    for attempt in range(ACCOUNT_LOCK_ATTEMPTS):
        result = subprocess.run([exe, *args], capture_output=True, text=True, check=False)  # noqa: S603 - fixed tool
        if result.returncode == 0:
            return
        if "lock" not in result.stderr or attempt == ACCOUNT_LOCK_ATTEMPTS - 1:
            raise OSUserError(f"{tool} failed ({result.returncode}): {result.stderr.strip()[-300:]}")
        time.sleep(0.1 * (attempt + 1))


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
