"""Private files of the local backend: written whole (a crash leaves the old or the new file, never half of
one) and readable by their owner only, from their first byte on: the file is created 0600 by `open(2)` itself
(O_CREAT|O_EXCL), handed to its owner while still under its temporary name, and only then renamed into place.
Nothing is ever written first and chmod-ed after, which would leave a window at the umask's wider mode."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PRIVATE_MODE = 0o600


def write_private(path: Path, text: str, *, owner: tuple[int, int] | None = None) -> bool:
    """Write `text` to `path` with mode 0600, atomically; False when the file already held exactly that (and
    belongs to `owner`, when one is given: uid and gid the file must end up with)."""
    try:
        unchanged = path.read_text() == text
        if unchanged and (owner is None or _owned_by(path, owner)):
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a crashed writer of the same pid: O_EXCL must create a fresh file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            if owner is not None:
                os.fchown(handle.fileno(), *owner)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def write_private_json(path: Path, data: dict[str, Any], *, owner: tuple[int, int] | None = None) -> bool:
    return write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n", owner=owner)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _owned_by(path: Path, owner: tuple[int, int]) -> bool:
    stat = path.stat()
    return (stat.st_uid, stat.st_gid) == owner
