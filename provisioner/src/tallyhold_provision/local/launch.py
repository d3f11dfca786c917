"""`python -m tallyhold_provision.local.launch [--user NAME] ENV_FILE`: the command supervisord runs for an instance.

It reads the instance's settings from its private env file (0600, in the customer's folder of the state
directory) and replaces itself with `tallyhold serve` (as `python -m tallyhold.serve`). The settings, which
include the database password and the Vault secret id, so never appear in supervisord's configuration, its
`supervisorctl` output or a command line. Every TALLYHOLD_ variable inherited from supervisord is dropped first:
the file is the whole truth.

With `--user` (the local backend passes the customer's own OS user when the operator is root) the launcher
starts as root and drops to that user before it reads anything: no group but the user's own, no way back
(`no_new_privs`), and the env file is read with the user's rights, so a file the instance could tamper with is
never parsed by root. It drops privileges itself rather than through supervisord's `user=` because of one thing
only root can do first: when the interpreter or the checkout sits below a folder the user may not enter (a
Python under root's 0700 home, a state folder in a private temporary directory), the instance gets a mount
namespace of its own in which that folder is an empty tmpfs holding just those paths, read-only (the instance
writes no file). Nothing is opened on the host for it, and the rest of that folder stays invisible.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pwd
import stat
import sys
from pathlib import Path

from tallyhold_provision.local.checkout import checkout_root
from tallyhold_provision.local.files import read_json

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38


# glibc gives each thread that allocates an arena of its own (up to 8 per core), and each arena keeps what was
# freed in it. The instance's threads (Vault calls, the metrics server, anyio's and libuv's pools) allocate in
# bursts during syncs; two arenas bound what those bursts leave behind, on a host of many instances. The
# container image sets the same (Containerfile). `PYTHONOPTIMIZE=2` (`python -OO`) drops the docstrings of every
# module the instance imports (6 MiB of an idle instance; the OpenAPI document keeps its descriptions:
# tallyhold/api/docstrings.py) and `assert` statements, which guard nothing in Tallyhold.
# `PYTHONNODEBUGRANGES=1` leaves out of the code objects compiled at start-up the column ranges that only draw
# the `^^^` under a traceback's line (0.8 MiB; tracebacks keep their files and lines). The operator's own
# values, when set, win.
INSTANCE_DEFAULTS = {"MALLOC_ARENA_MAX": "2", "PYTHONOPTIMIZE": "2", "PYTHONNODEBUGRANGES": "1"}


def child_environment(env_file: Path, inherited: dict[str, str]) -> dict[str, str]:
    settings = read_json(env_file)
    if settings is None:
        raise SystemExit(f"error: {env_file} is missing")
    base = {k: v for k, v in inherited.items() if not k.startswith("TALLYHOLD_")}
    return {**INSTANCE_DEFAULTS, **base, **{str(k): str(v) for k, v in settings.items()}}


def needed_paths(env_file: Path, exposed: list[Path] | None = None) -> list[Path]:
    """What the instance must reach: the checkout (venv, workspace sources), the interpreter's installation,
    its own folder, and what the provisioner's command line adds (the host's egress worker slots)."""
    return outermost([env_file.parent, *(exposed or [])])


def outermost(folders: list[Path]) -> list[Path]:
    """The checkout (venv, workspace sources), the interpreter's installation and `folders`, none inside
    another."""
    paths = {checkout_root(), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    paths |= {folder.resolve() for folder in folders}
    return sorted(path for path in paths if not any(other in path.parents for other in paths))


def hidden_ancestor(path: Path) -> Path | None:
    """The highest folder above `path` that others may not enter (no o+x), None when every one lets them."""
    for parent in reversed(path.parents):
        if not parent.stat().st_mode & stat.S_IXOTH:
            return parent
    return None


def _libc_call(name: str, *args: object) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _libc_call("mount", _c(source), _c(target), _c(fstype), ctypes.c_ulong(flags), _c(data))


def _c(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def expose_hidden_paths(paths: list[Path]) -> None:
    """In a mount namespace of our own: each hidden folder above a needed path becomes an empty tmpfs that holds
    just the needed paths, bound read-only at their own names."""
    by_cover: dict[Path, list[Path]] = {}
    for path in paths:
        cover = hidden_ancestor(path)
        if cover is not None:
            by_cover.setdefault(cover, []).append(path)
    if not by_cover:
        return
    _libc_call("unshare", CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host's mounts
    for cover, inside in sorted(by_cover.items()):
        # Held open before the cover hides them: bound from /proc/self/fd afterwards.
        handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in inside}
        _mount("tmpfs", str(cover), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k")
        for path, handle in handles.items():
            _make_path(cover, path)
            _mount(f"/proc/self/fd/{handle}", str(path), None, MS_BIND | MS_REC)
            _mount(None, str(path), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(handle)
        _mount(None, str(cover), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")


def _make_path(cover: Path, path: Path) -> None:
    """The folders from the cover down to `path`, enterable by all: supervisord's umask (077) must not apply."""
    for folder in [*reversed(path.relative_to(cover).parents), path.relative_to(cover)][1:]:
        (cover / folder).mkdir(exist_ok=True)
        (cover / folder).chmod(0o755)


def drop_to(user: str) -> pwd.struct_passwd:
    entry = pwd.getpwnam(user)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise SystemExit(f"error: refusing to run an instance as {user}: it has uid or gid 0")
    os.setgroups([])
    os.setresgid(entry.pw_gid, entry.pw_gid, entry.pw_gid)
    os.setresuid(entry.pw_uid, entry.pw_uid, entry.pw_uid)
    _libc_call("prctl", PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tallyhold_provision.local.launch")
    parser.add_argument("--user", help="the OS user the instance runs as (the launcher must start as root)")
    parser.add_argument(
        "--expose", type=Path, action="append", default=[], help="a folder the instance reads (read-only)"
    )
    parser.add_argument("env_file", type=Path)
    args = parser.parse_args()
    env_file: Path = args.env_file.resolve()
    inherited = dict(os.environ)
    if args.user:
        if os.geteuid() != 0:
            raise SystemExit("error: --user needs the launcher to start as root")
        expose_hidden_paths(needed_paths(env_file, args.expose))
        entry = drop_to(args.user)
        runtime = env_file.parent / "run"
        os.chdir(runtime)
        inherited |= {"HOME": str(runtime), "USER": entry.pw_name, "LOGNAME": entry.pw_name}
    env = child_environment(env_file, inherited)
    # `tallyhold serve` without the command line's library (typer): about 1 MiB less per instance. `-P`: `-m` would
    # put the working directory (the customer's run folder, which the instance writes) first on sys.path.
    os.execve(sys.executable, [sys.executable, "-P", "-m", "tallyhold.serve"], env)  # noqa: S606 - our own module, no shell


if __name__ == "__main__":
    main()
